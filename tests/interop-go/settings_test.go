package interop

// Broker settings that some tests need (short delay levels, a quick
// transaction check, SQL92 filters). A test asks for them with
// requireSettings; if the running broker lacks any of them it is restarted
// gracefully, on the same store, with ROCKETMQ_BROKER_CONF (if any) plus the
// settings appended (later keys win in both brokers' config readers). The
// settings then stay for the rest of the run, so every test that asks for
// featureSettings shares one restart.

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// featureSettings serve the delay, retry/DLQ, transaction and filter tests.
//
//   - messageDelayLevel: level L is L seconds. Apache RocketMQ 4.9 accepts
//     only the units s, m, h and d, so whole seconds keep one setting for
//     both targets. Retry n (0-based) uses level 3+n.
//   - transactionTimeOut (ms): a half message left UNKNOWN this long is
//     checked back; transactionCheckInterval (ms): how often the check runs.
//   - enablePropertyFilter: SQL92 subscriptions are refused without it.
var featureSettings = map[string]string{
	"messageDelayLevel":        "1s 2s 3s 4s 5s 6s 7s 8s 9s 10s",
	"transactionTimeOut":       "2000",
	"transactionCheckInterval": "1000",
	"enablePropertyFilter":     "true",
}

// delayOfLevel is the delay of a level under featureSettings.
func delayOfLevel(level int) int64 { return int64(level) * 1000 }

// requireSettings makes sure the broker under test runs with the given
// broker.conf settings, restarting it (gracefully, same store) if needed.
// Clients made before the call point at the old addresses; make new ones.
func requireSettings(t *testing.T, want map[string]string) {
	t.Helper()
	requireBroker(t)
	changed, err := target.applySettings(want)
	if err != nil {
		t.Fatalf("broker settings: %v", err)
	}
	if changed {
		t.Logf("restarting the broker with %s", strings.TrimSuffix(strings.ReplaceAll(formatSettings(want), "\n", "; "), "; "))
		// Our broker prints READY before it handles SIGTERM, so a stop
		// right after READY can kill it outright; TestStopRightAfterReady
		// checks that. Here the restart is only a means: let it settle.
		if p := target.current(); p != nil {
			for time.Since(p.readyAt) < time.Second {
				time.Sleep(10 * time.Millisecond)
			}
		}
		restartBroker(t, true)
	}
}

// applySettings merges want into the settings the tests added and writes
// the config file the next start uses. It reports whether anything changed;
// settings ROCKETMQ_BROKER_CONF already has count, so a run given a config
// with them needs no restart.
func (b *brokerUnderTest) applySettings(want map[string]string) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	base, err := readProperties(b.conf)
	if err != nil {
		return false, err
	}
	changed := false
	for k, v := range want {
		cur, ok := b.settings[k]
		if !ok {
			cur, ok = base[k]
		}
		if !ok || cur != v {
			changed = true
		}
	}
	if !changed {
		return false, nil
	}
	merged := map[string]string{}
	for k, v := range b.settings {
		merged[k] = v
	}
	for k, v := range want {
		merged[k] = v
	}

	var conf strings.Builder
	if b.conf != "" {
		text, err := os.ReadFile(b.conf)
		if err != nil {
			return false, err
		}
		conf.Write(text)
		conf.WriteString("\n")
	}
	conf.WriteString("# added by the interop suite (settings_test.go)\n")
	conf.WriteString(formatSettings(merged))
	path := filepath.Join(b.workDir, fmt.Sprintf("broker-settings-%d.conf", nameSeq.Add(1)))
	if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
		return false, err
	}
	b.settings, b.settingsConf = merged, path
	fmt.Fprintf(b.logFile, "==== broker settings now from %s:\n%s", path, formatSettings(merged))
	return true, nil
}

// readProperties reads the key=value (or key: value) lines of a Java-style
// properties file; no file ("") is no settings.
func readProperties(path string) (map[string]string, error) {
	props := map[string]string{}
	if path == "" {
		return props, nil
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		if i := strings.IndexAny(line, "=:"); i > 0 {
			props[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
		}
	}
	return props, nil
}

func formatSettings(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var s strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&s, "%s=%s\n", k, m[k])
	}
	return s.String()
}
