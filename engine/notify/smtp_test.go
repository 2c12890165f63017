package notify

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
)

// receivedMail is what the test SMTP server received.
type receivedMail struct {
	from string
	to   []string
	data string
	tls  bool // the mail came after STARTTLS
}

// smtpServer is a minimal SMTP server: EHLO, STARTTLS (when it has a
// certificate), MAIL, RCPT, DATA, QUIT.
type smtpServer struct {
	ln    net.Listener
	tls   *tls.Config // nil: no STARTTLS offered
	mails chan receivedMail
	wg    sync.WaitGroup
}

func newSMTPServer(t *testing.T, withTLS bool) (*smtpServer, *x509.CertPool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, mails: make(chan receivedMail, 10)}
	var pool *x509.CertPool
	if withTLS {
		var cert tls.Certificate
		cert, pool = selfSigned(t)
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s, pool
}

func (s *smtpServer) serve(c net.Conn) {
	c.SetDeadline(time.Now().Add(waitDeadline))
	tp := textproto.NewConn(c)
	tp.PrintfLine("220 test ESMTP")
	var m receivedMail
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			if s.tls != nil && !m.tls {
				tp.PrintfLine("250-test\r\n250 STARTTLS")
			} else {
				tp.PrintfLine("250 test")
			}
		case "STARTTLS":
			if s.tls == nil {
				tp.PrintfLine("502 no TLS")
				continue
			}
			tp.PrintfLine("220 go ahead")
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			tp = textproto.NewConn(tc)
			m = receivedMail{tls: true}
		case "MAIL":
			m.from = strings.Trim(strings.TrimPrefix(arg, "FROM:"), "<>")
			tp.PrintfLine("250 ok")
		case "RCPT":
			m.to = append(m.to, strings.Trim(strings.TrimPrefix(arg, "TO:"), "<>"))
			tp.PrintfLine("250 ok")
		case "DATA":
			tp.PrintfLine("354 go ahead")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			m.data = string(data)
			s.mails <- m
			tp.PrintfLine("250 queued")
		case "QUIT":
			tp.PrintfLine("221 bye")
			return
		default:
			tp.PrintfLine("500 what")
		}
	}
}

// selfSigned returns a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestEmailOverSTARTTLS: a failure is mailed to every address of the
// channel, after STARTTLS, which the server offers.
func TestEmailOverSTARTTLS(t *testing.T) {
	srv, pool := newSMTPServer(t, true)
	h := newHarness(t, Config{Server: Server{
		PublicURL: "https://cb.example.com",
		SMTP:      SMTP{Addr: srv.ln.Addr().String(), From: "cronbox@example.com", TLS: &tls.Config{RootCAs: pool}},
	}})
	h.withApp("demo", []app.Channel{{Name: "mail", Kind: app.ChannelEmail, To: []string{"ops@example.com", "dev@example.com"},
		On: []string{"failed"}, Window: time.Minute}}, "nightly")
	h.finish("demo", "nightly", store.StatusFailed, "exit code 3\n.\nafter a lone dot", 2*time.Second)
	var m receivedMail
	select {
	case m = <-srv.mails:
	case <-time.After(waitDeadline):
		t.Fatal("no mail arrived")
	}
	if !m.tls || m.from != "cronbox@example.com" || strings.Join(m.to, ",") != "ops@example.com,dev@example.com" {
		t.Errorf("mail from %q to %v, over TLS %v", m.from, m.to, m.tls)
	}
	r := textproto.NewReader(bufio.NewReader(strings.NewReader(m.data)))
	hdr, err := r.ReadMIMEHeader()
	if err != nil {
		t.Fatal(err)
	}
	if got := hdr.Get("Subject"); got != "[Cronbox] demo/nightly failed after 2s" {
		t.Errorf("Subject = %q", got)
	}
	for _, want := range []string{"Error: exit code 3\n.\nafter a lone dot", "Run: https://cb.example.com/runs/1"} {
		if !strings.Contains(strings.ReplaceAll(m.data, "\r\n", "\n"), want) {
			t.Errorf("mail body lacks %q:\n%s", want, m.data)
		}
	}
	ns := h.waitFor("sent", func(ns []store.Notification) bool { return len(ns) == 1 && ns[0].Status != store.NotificationPending })
	if ns[0].Status != store.NotificationSent {
		t.Errorf("notification = %+v", ns[0])
	}
}

// TestEmailRequireTLS: with requireTLS, a server that offers no STARTTLS
// gets no mail; without it, it does.
func TestEmailRequireTLS(t *testing.T) {
	srv, _ := newSMTPServer(t, false)
	h := newHarness(t, Config{MaxAttempts: 1, Server: Server{
		SMTP: SMTP{Addr: srv.ln.Addr().String(), From: "cronbox@example.com", RequireTLS: true},
	}})
	h.withApp("demo", []app.Channel{{Name: "mail", Kind: app.ChannelEmail, To: []string{"ops@example.com"}, On: []string{"failed"}, Window: time.Minute}}, "t")
	h.finish("demo", "t", store.StatusFailed, "x", time.Second)
	ns := h.waitFor("given up", func(ns []store.Notification) bool { return len(ns) == 1 && ns[0].Status != store.NotificationPending })
	if ns[0].Status != store.NotificationFailed || !strings.Contains(ns[0].LastError, "does not offer STARTTLS") {
		t.Errorf("notification = %+v", ns[0])
	}
	select {
	case m := <-srv.mails:
		t.Fatalf("a mail went without TLS: %+v", m)
	default:
	}

	h.cfg.Server.SMTP.RequireTLS = false
	h.n.Stop()
	h.start()
	h.clk.Advance(time.Hour) // past the channel's window
	h.finish("demo", "t", store.StatusFailed, "x", time.Second)
	select {
	case m := <-srv.mails:
		if m.tls {
			t.Errorf("mail over TLS from a server without it")
		}
	case <-time.After(waitDeadline):
		t.Fatal("no mail arrived without requireTLS")
	}
}
