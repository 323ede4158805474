package interop

// The broker under test: which one, how it is started, stopped and restarted.
//
// ROCKETMQ_BIN=/path/to/rocketmq   runs our `rocketmq serve` (name server +
//                                  broker in one process)
// ROCKETMQ_TARGET=java             runs tests/java-broker/start.sh (genuine
//                                  Apache RocketMQ 4.9.x)
//
// Either prints one line `READY namesrv=<addr> broker=<addr> store=<dir>`
// on stdout once it accepts requests; everything else it prints goes to
// broker.log in the suite's work dir.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// brokerProcess is one running instance of the broker under test.
type brokerProcess struct {
	cmd         *exec.Cmd
	namesrvAddr string
	brokerAddr  string
	storeDir    string
	readyAt     time.Time
	exited      chan struct{} // closed when the process has exited
	exitErr     error         // valid after exited is closed
}

// brokerUnderTest knows how to (re)start the target. Tests read addresses
// through it because a restart may move the ports.
type brokerUnderTest struct {
	kind     string // "rust" or "java"
	bin      string // ROCKETMQ_BIN or the path of start.sh
	conf     string // optional broker config file (-c), ROCKETMQ_BROKER_CONF
	workDir  string
	storeDir string // kept across restarts
	logFile  *os.File

	mu   sync.Mutex
	proc *brokerProcess
	// settings are broker.conf keys tests asked for (see settings_test.go);
	// when there are any, the broker runs with settingsConf: conf plus them.
	settings     map[string]string
	settingsConf string
}

func newBrokerUnderTest(workDir string) (*brokerUnderTest, error) {
	b := &brokerUnderTest{
		workDir:  workDir,
		storeDir: filepath.Join(workDir, "store"),
		conf:     os.Getenv("ROCKETMQ_BROKER_CONF"),
	}
	switch bin, target := os.Getenv("ROCKETMQ_BIN"), os.Getenv("ROCKETMQ_TARGET"); {
	case bin != "" && target != "" && target != "rust":
		return nil, fmt.Errorf("set either ROCKETMQ_BIN or ROCKETMQ_TARGET=java, not both")
	case bin != "":
		abs, err := filepath.Abs(bin)
		if err != nil {
			return nil, err
		}
		b.kind, b.bin = "rust", abs
	case target == "java":
		start := os.Getenv("ROCKETMQ_JAVA_START")
		if start == "" {
			start = filepath.Join("..", "java-broker", "start.sh")
		}
		abs, err := filepath.Abs(start)
		if err != nil {
			return nil, err
		}
		b.kind, b.bin = "java", abs
	default:
		return nil, errNoTarget
	}
	if b.conf != "" {
		abs, err := filepath.Abs(b.conf)
		if err != nil {
			return nil, err
		}
		b.conf = abs
	}
	f, err := os.Create(filepath.Join(workDir, "broker.log"))
	if err != nil {
		return nil, err
	}
	b.logFile = f
	return b, nil
}

var errNoTarget = errors.New("no broker under test: set ROCKETMQ_BIN=/path/to/rocketmq or ROCKETMQ_TARGET=java (see run.sh)")

func (b *brokerUnderTest) command() *exec.Cmd {
	conf := b.conf
	if b.settingsConf != "" {
		conf = b.settingsConf
	}
	var cmd *exec.Cmd
	switch b.kind {
	case "rust":
		args := []string{"serve",
			"--store-dir", b.storeDir,
			"--namesrv-port", "0",
			"--broker-port", "0",
			"--broker-ip", "127.0.0.1"}
		if conf != "" {
			args = append(args, "-c", conf)
		}
		cmd = exec.Command(b.bin, args...)
	case "java":
		args := []string{b.bin,
			"--store-dir", b.storeDir,
			"--run-dir", filepath.Join(b.workDir, "java-run")}
		if conf != "" {
			args = append(args, "-c", conf)
		}
		cmd = exec.Command("bash", args...)
	}
	cmd.SysProcAttr = childProcAttr()
	return cmd
}

// start launches the broker and waits for its READY line.
func (b *brokerUnderTest) start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc != nil {
		return errors.New("broker already running")
	}
	fmt.Fprintf(b.logFile, "==== %s: starting %s broker (%s)\n", time.Now().Format(time.RFC3339Nano), b.kind, b.bin)

	cmd := b.command()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = b.logFile
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", b.bin, err)
	}
	p := &brokerProcess{cmd: cmd, exited: make(chan struct{})}

	ready := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		// The first READY line is handed over; the rest of stdout is kept in
		// the log so that a chatty binary can never block on a full pipe.
		defer close(copied)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if !sent && strings.HasPrefix(line, "READY ") {
				ready <- line
				sent = true
			}
			fmt.Fprintf(b.logFile, "[stdout] %s\n", line)
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		<-copied
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()

	timeout := scaled(startTimeout())
	select {
	case line := <-ready:
		fields, err := parseReady(line)
		if err != nil {
			killGroup(cmd)
			<-p.exited
			return err
		}
		p.namesrvAddr, p.brokerAddr, p.storeDir = fields["namesrv"], fields["broker"], fields["store"]
		p.readyAt = time.Now()
		b.proc = p
		fmt.Fprintf(b.logFile, "==== ready after %v: %s\n", time.Since(began).Round(time.Millisecond), line)
		return nil
	case <-p.exited:
		return fmt.Errorf("%s broker exited before READY (%v); see %s", b.kind, p.exitErr, b.logFile.Name())
	case <-time.After(timeout):
		killGroup(cmd)
		<-p.exited
		return fmt.Errorf("%s broker printed no READY line within %v; see %s", b.kind, timeout, b.logFile.Name())
	}
}

func parseReady(line string) (map[string]string, error) {
	fields := map[string]string{}
	for _, f := range strings.Fields(line)[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("malformed READY line %q", line)
		}
		fields[k] = v
	}
	for _, k := range []string{"namesrv", "broker", "store"} {
		if fields[k] == "" {
			return nil, fmt.Errorf("READY line %q lacks %s=", line, k)
		}
	}
	return fields, nil
}

// stop ends the broker: gracefully (SIGTERM, the broker persists its state)
// or as a crash (SIGKILL to the whole process group, JVMs included).
func (b *brokerUnderTest) stop(graceful bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.proc
	if p == nil {
		return nil
	}
	b.proc = nil
	fmt.Fprintf(b.logFile, "==== %s: stopping (graceful=%v)\n", time.Now().Format(time.RFC3339Nano), graceful)
	if !graceful {
		killGroup(p.cmd)
		<-p.exited
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	timeout := scaled(60 * time.Second)
	select {
	case <-p.exited:
	case <-time.After(timeout):
		killGroup(p.cmd)
		<-p.exited
		return fmt.Errorf("broker did not exit within %v of SIGTERM; killed", timeout)
	}
	// A clean shutdown exits 0; the Java harness exits 0 after stopping its JVMs.
	var exitErr *exec.ExitError
	if errors.As(p.exitErr, &exitErr) {
		return fmt.Errorf("broker exited with %v after SIGTERM", p.exitErr)
	}
	return nil
}

// restart stops the broker (gracefully or by crash) and starts it again on
// the same store. Ports may change; use namesrv() afterwards.
func (b *brokerUnderTest) restart(graceful bool) error {
	if err := b.stop(graceful); err != nil {
		return err
	}
	return b.start()
}

// died reports how the current broker process ended if it is no longer
// running although nobody stopped it; nil while it runs.
func (b *brokerUnderTest) died() error {
	p := b.current()
	if p == nil {
		return nil
	}
	select {
	case <-p.exited:
		if p.exitErr != nil {
			return fmt.Errorf("broker under test exited unexpectedly: %v (see %s)", p.exitErr, b.logFile.Name())
		}
		return fmt.Errorf("broker under test exited unexpectedly with status 0 (see %s)", b.logFile.Name())
	default:
		return nil
	}
}

// forgetDead drops a process that has exited on its own, so that the next
// start begins afresh on the same store.
func (b *brokerUnderTest) forgetDead() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc == nil {
		return
	}
	select {
	case <-b.proc.exited:
		fmt.Fprintf(b.logFile, "==== %s: process had exited (%v)\n", time.Now().Format(time.RFC3339Nano), b.proc.exitErr)
		b.proc = nil
	default:
	}
}

func (b *brokerUnderTest) current() *brokerProcess {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.proc
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	// negative pid: the process group that Setpgid gave the child
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}

func startTimeout() time.Duration {
	if v := os.Getenv("ROCKETMQ_START_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return 120 * time.Second
}
