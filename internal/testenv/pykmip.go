package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// PyKMIPPath is the PyKMIP server of Debian's python3-pykmip package (.ci/pykmip.sh installs it).
const PyKMIPPath = "/usr/bin/pykmip-server"

// ErrNoPyKMIP is returned by StartPyKMIP when PyKMIP is not installed.
var ErrNoPyKMIP = errors.New("testenv: " + PyKMIPPath + " is absent (install python3-pykmip, as .ci/pykmip.sh does)")

// PyKMIPCerts are the PEM files of a PyKMIP server: its certificate and key, and the CA its
// clients' certificates must chain to (PyKMIP requires client certificates).
type PyKMIPCerts struct {
	CertFile, KeyFile, CAFile string
}

// PyKMIP is a running PyKMIP server.
type PyKMIP struct {
	Addr    string // 127.0.0.1:port
	logPath string
	out     *lockedBuffer
	stop    func()
}

// StartPyKMIP starts a PyKMIP server on a free loopback port with a configuration and a SQLite
// database in a temporary directory of its own, and returns once it accepts connections. A
// port taken between choosing and binding it is retried. Stop kills it.
func StartPyKMIP(c PyKMIPCerts) (*PyKMIP, error) {
	if _, err := os.Stat(PyKMIPPath); err != nil {
		return nil, ErrNoPyKMIP
	}
	dir, err := os.MkdirTemp("", "mongocrypt-pykmip-")
	if err != nil {
		return nil, err
	}
	policies := filepath.Join(dir, "policies")
	if err := os.Mkdir(policies, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var errs []error
	for attempt := 0; attempt < 3; attempt++ {
		p, err := launchPyKMIP(c, dir, policies, attempt)
		if err == nil {
			stop := p.stop
			p.stop = func() { stop(); os.RemoveAll(dir) }
			return p, nil
		}
		errs = append(errs, err)
	}
	os.RemoveAll(dir)
	return nil, fmt.Errorf("testenv: PyKMIP did not start: %w", errors.Join(errs...))
}

func launchPyKMIP(c PyKMIPCerts, dir, policies string, attempt int) (*PyKMIP, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := filepath.Join(dir, fmt.Sprintf("server-%d.conf", attempt))
	text := fmt.Sprintf("[server]\nhostname=127.0.0.1\nport=%d\ncertificate_path=%s\nkey_path=%s\nca_path=%s\n"+
		"auth_suite=TLS1.2\nenable_tls_client_auth=True\npolicy_path=%s\nlogging_level=DEBUG\ndatabase_path=%s\n",
		port, c.CertFile, c.KeyFile, c.CAFile, policies, filepath.Join(dir, fmt.Sprintf("pykmip-%d.db", attempt)))
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, err
	}
	p := &PyKMIP{
		Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		logPath: filepath.Join(dir, fmt.Sprintf("server-%d.log", attempt)),
		out:     &lockedBuffer{},
	}
	cmd := exec.Command(PyKMIPPath, "-f", conf, "-l", p.logPath)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = p.out, p.out
	// PyKMIP forks a multiprocessing manager, which must die with it.
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", PyKMIPPath, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	done := false
	p.stop = func() {
		if !done {
			done = true
			killProcessGroup(cmd)
			<-exited
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			return nil, fmt.Errorf("PyKMIP exited: %v\n%s", err, p.Logs())
		default:
		}
		if conn, err := net.DialTimeout("tcp", p.Addr, 200*time.Millisecond); err == nil {
			conn.Close()
			return p, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("PyKMIP not listening on %s after 60 s\n%s", p.Addr, p.Logs())
}

// Stop kills the server and removes its files.
func (p *PyKMIP) Stop() { p.stop() }

// Logs returns what the server printed and the end of its log file.
func (p *PyKMIP) Logs() string {
	log, _ := os.ReadFile(p.logPath)
	if len(log) > 8000 {
		log = log[len(log)-8000:]
	}
	return "output:\n" + p.out.String() + "\nlog (tail):\n" + string(log)
}
