package primitive

import (
	"errors"
	"os"
	"strings"
)

// NsResolver finds the name servers.
type NsResolver interface {
	Resolve() []string
	Description() string
}

type passthroughResolver struct {
	addr     []string
	failback NsResolver
}

// NewPassthroughResolver uses addr as is (the env resolver when addr is nil).
func NewPassthroughResolver(addr []string) *passthroughResolver {
	return &passthroughResolver{addr: addr, failback: NewEnvResolver()}
}

func (p *passthroughResolver) Resolve() []string {
	if p.addr != nil {
		return p.addr
	}
	return p.failback.Resolve()
}
func (p *passthroughResolver) Description() string {
	return "passthrough resolver of " + strings.Join(p.addr, ";")
}

// EnvResolver reads NAMESRV_ADDR ("a:9876;b:9876").
type EnvResolver struct{}

func NewEnvResolver() *EnvResolver { return &EnvResolver{} }

func (e *EnvResolver) Resolve() []string {
	if v := os.Getenv("NAMESRV_ADDR"); v != "" {
		return strings.Split(v, ";")
	}
	return nil
}
func (e *EnvResolver) Description() string { return "env resolver of NAMESRV_ADDR" }

// NamesrvAddr is a list of name server addresses.
type NamesrvAddr []string

// ErrNoNameserver and ErrMultiIP are returned by NewNamesrvAddr and Check.
var (
	ErrNoNameserver = errors.New("no name server address")
	ErrMultiIP      = errors.New("multiple IP addresses in one name server entry")
)

// NewNamesrvAddr accepts "a:9876;b:9876" entries, with or without an http(s):// prefix.
func NewNamesrvAddr(s ...string) (NamesrvAddr, error) {
	var out NamesrvAddr
	for _, e := range s {
		for _, a := range strings.Split(e, ";") {
			a = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(a, "http://"), "https://"))
			if a != "" {
				out = append(out, a)
			}
		}
	}
	if len(out) == 0 {
		return nil, ErrNoNameserver
	}
	return out, out.Check()
}

// Check validates every entry is host:port.
func (addr NamesrvAddr) Check() error {
	for _, a := range addr {
		if strings.Count(a, ":") != 1 && !strings.HasPrefix(a, "[") {
			return ErrMultiIP
		}
	}
	return nil
}

// Credentials for ACL.
type Credentials struct {
	AccessKey     string
	SecretKey     string
	SecurityToken string
}

func (c Credentials) IsEmpty() bool { return c.AccessKey == "" || c.SecretKey == "" }
