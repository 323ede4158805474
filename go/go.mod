module github.com/rocketmq-rs/rocketmq-rs/go

go 1.22
