package faults

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds cmd/didrouter once into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "didrouter")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/didrouter/didrouter/cmd/didrouter")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/didrouter: %v\n%s", err, out)
	}
	return bin
}

// settings is the environment every instance shares.
type settings struct {
	bin         string
	databaseURL string
	publicURL   string // the load balancer's URL, which Twilio signs
	authToken   string
	apiKey      string
	apiSecret   string
	shutdown    time.Duration
	storeWait   time.Duration // DIDROUTER_STORE_WAIT
	logDir      string
}

// instance is one didrouter process on a loopback port.
type instance struct {
	name string
	addr string // 127.0.0.1:port
	set  settings

	mu      sync.Mutex
	cmd     *exec.Cmd
	runs    int
	exited  chan struct{} // closed when the current process has exited
	exitErr error
	logs    []string // log files, one per run
}

func newInstance(name string, port int, set settings) *instance {
	return &instance{name: name, addr: fmt.Sprintf("127.0.0.1:%d", port), set: set}
}

func (in *instance) base() string { return "http://" + in.addr }

// journal is the instance's degraded-mode journal (kept across restarts).
func (in *instance) journal() string { return filepath.Join(in.set.logDir, in.name+".journal") }

// start runs the process and waits until /readyz answers 200.
func (in *instance) start(ctx context.Context) error {
	in.mu.Lock()
	in.runs++
	logPath := filepath.Join(in.set.logDir, fmt.Sprintf("%s-run%d.log", in.name, in.runs))
	in.logs = append(in.logs, logPath)
	in.mu.Unlock()
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(in.set.bin, "serve")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+in.set.databaseURL,
		"TWILIO_AUTH_TOKEN="+in.set.authToken,
		"DIDROUTER_PUBLIC_URL="+in.set.publicURL,
		"DIDROUTER_ADDR="+in.addr,
		"DIDROUTER_API_KEY="+in.set.apiKey,
		"DIDROUTER_API_SECRET="+in.set.apiSecret,
		"DIDROUTER_INSTANCE_ID="+in.name,
		"DIDROUTER_SHUTDOWN_TIMEOUT="+in.set.shutdown.String(),
		"DIDROUTER_STORE_WAIT="+in.set.storeWait.String(),
		"DIDROUTER_JOURNAL="+in.journal(),
		"DIDROUTER_LOG_FORMAT=json",
		"DIDROUTER_LOG_LEVEL=info",
		// The replay's owner-first check assumes agents keep the activity
		// it gave them; the presence rules would move those who miss calls.
		"DIDROUTER_MISSED_CALLS_UNAVAILABLE=off",
		"DIDROUTER_AGENT_AWAY=off",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", in.name, err)
	}
	exited := make(chan struct{})
	in.mu.Lock()
	in.cmd, in.exited, in.exitErr = cmd, exited, nil
	in.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logFile.Close()
		in.mu.Lock()
		in.exitErr = err
		in.mu.Unlock()
		close(exited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("%s exited during start-up: %v\n%s", in.name, in.err(), tail(logPath, 3000))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := http.Get(in.base() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never became ready\n%s", in.name, tail(logPath, 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (in *instance) err() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.exitErr
}

// signal sends sig to the running process.
func (in *instance) signal(sig syscall.Signal) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil || in.cmd.Process == nil {
		return errors.New(in.name + " is not running")
	}
	return in.cmd.Process.Signal(sig)
}

// wait waits up to d for the process to exit; it reports whether it
// exited in time and its exit error (nil = exit status 0).
func (in *instance) wait(d time.Duration) (bool, error) {
	in.mu.Lock()
	exited := in.exited
	in.mu.Unlock()
	select {
	case <-exited:
		return true, in.err()
	case <-time.After(d):
		return false, nil
	}
}

// running reports whether the current process has not exited.
func (in *instance) running() bool {
	in.mu.Lock()
	exited := in.exited
	in.mu.Unlock()
	if exited == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// stop kills the process if it still runs (test clean-up).
func (in *instance) stop() {
	if in.running() {
		_ = in.signal(syscall.SIGKILL)
		in.wait(10 * time.Second)
	}
}

// logText returns every run's log.
func (in *instance) logText() string {
	in.mu.Lock()
	paths := append([]string(nil), in.logs...)
	in.mu.Unlock()
	var b strings.Builder
	for _, p := range paths {
		data, _ := os.ReadFile(p)
		b.Write(data)
	}
	return b.String()
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
