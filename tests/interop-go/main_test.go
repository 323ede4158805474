// Package interop checks the broker under test against the genuine Apache
// RocketMQ Go client (github.com/apache/rocketmq-client-go/v2, pinned in
// go.mod). See run.sh for how to run it.
package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/rlog"
)

// target is the broker under test, started once by TestMain.
var target *brokerUnderTest

const (
	// Read by the Go client in a package init (consumer/offset_store.go), so
	// it must be in the environment before the test binary starts:
	// broadcasting consumers keep their offsets there instead of $HOME.
	envClientOffsetDir = "rocketmq.client.localOffsetStoreDir"
	envWorkDir         = "INTEROP_WORK_DIR"
	envOwnWorkDir      = "INTEROP_OWN_WORK_DIR"
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Getenv(envClientOffsetDir) == "" {
		// Too late for this process (the client's init has run): set up the
		// work dir, then replace this process by a fresh copy of itself.
		return reexecWithWorkDir()
	}
	workDir := os.Getenv(envWorkDir)
	if workDir == "" {
		dir, err := os.MkdirTemp("", "rocketmq-interop-go-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		workDir = dir
		_ = os.Setenv(envOwnWorkDir, "1")
	}

	level := os.Getenv("INTEROP_GO_LOG_LEVEL")
	if level == "" {
		level = "warn"
	}
	rlog.SetLogLevel(level)
	clientLog := filepath.Join(workDir, "go-client.log")
	if err := rlog.SetOutputPath(clientLog); err != nil {
		fmt.Fprintln(os.Stderr, "go client log:", err)
		return 1
	}

	var err error
	target, err = newBrokerUnderTest(workDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop-go:", err)
		return 2
	}
	if err := target.start(); err != nil {
		fmt.Fprintln(os.Stderr, "interop-go: starting the broker under test:", err)
		dumpTail(target.logFile.Name(), 60)
		fmt.Fprintln(os.Stderr, "interop-go: work dir kept:", workDir)
		return 1
	}
	fmt.Printf("interop-go: %s broker up: namesrv=%s broker=%s\n", target.kind, namesrv(), brokerAddr())

	code := m.Run()

	if err := target.stop(true); err != nil {
		fmt.Fprintln(os.Stderr, "interop-go: stopping the broker under test:", err)
		code = 1
	}
	_ = target.logFile.Close()
	if code != 0 || os.Getenv("INTEROP_KEEP") != "" || os.Getenv(envOwnWorkDir) == "" {
		fmt.Printf("interop-go: logs in %s (broker.log, go-client.log)\n", workDir)
	} else {
		_ = os.RemoveAll(workDir)
	}
	return code
}

func reexecWithWorkDir() int {
	workDir, err := os.MkdirTemp("", "rocketmq-interop-go-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env := append(os.Environ(),
		envWorkDir+"="+workDir,
		envOwnWorkDir+"=1",
		envClientOffsetDir+"="+filepath.Join(workDir, "client-offsets"))
	err = syscall.Exec(exe, os.Args, env)
	fmt.Fprintln(os.Stderr, "re-exec with a private offset dir failed:", err)
	return 1
}

func dumpTail(path string, lines int) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	start := len(data)
	for n := 0; start > 0 && n <= lines; {
		start--
		if data[start] == '\n' {
			n++
		}
	}
	fmt.Fprintf(os.Stderr, "---- tail of %s\n%s\n", path, data[start:])
}

// namesrv is the current name server address of the broker under test.
func namesrv() string { return target.current().namesrvAddr }

// brokerAddr is the current broker address of the broker under test.
func brokerAddr() string { return target.current().brokerAddr }
