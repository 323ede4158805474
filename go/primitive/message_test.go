package primitive

import "testing"

func TestMessageBuilders(t *testing.T) {
	m := NewMessage("T", []byte("b")).WithTag("A").WithKeys([]string{"k1", "k2"}).WithDelayTimeLevel(3).WithShardingKey("s")
	m.WithProperty("", "ignored")
	m.WithProperty("x", "")
	if m.GetTags() != "A" || m.GetKeys() != "k1 k2" || m.GetProperty(PropertyDelayTimeLevel) != "3" || m.GetShardingKey() != "s" {
		t.Fatalf("%s", m)
	}
	if len(m.GetProperties()) != 4 {
		t.Fatalf("properties %v", m.GetProperties())
	}
	if m.RemoveProperty(PropertyTags) != "A" || m.GetTags() != "" {
		t.Fatal("remove")
	}
}

func TestNamesrvAddr(t *testing.T) {
	a, err := NewNamesrvAddr("http://127.0.0.1:9876;127.0.0.2:9876")
	if err != nil || len(a) != 2 || a[0] != "127.0.0.1:9876" {
		t.Fatalf("%v %v", a, err)
	}
	if _, err := NewNamesrvAddr(""); err == nil {
		t.Fatal("empty accepted")
	}
}
