package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/cronbox/cronbox/engine"
)

// Webhooks: POST /hooks/{app}/{task} starts a task whose definition has a
// webhook: block, without a token. The request is signed as Stripe signs
// its events: the header
//
//	X-Cronbox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
//
// carries the time of signing and the HMAC-SHA256, keyed with the app's
// secret the task names, of "<t>.<body>". A signature older or newer than
// WebhookTolerance is refused, so a captured request cannot be replayed
// later, and one already used within it is refused too; several v1= are
// allowed, so that a secret can be rotated.

// SignatureHeader is the header that carries a webhook's signature.
const SignatureHeader = "X-Cronbox-Signature"

// WebhookTolerance is how far the time of a webhook's signature may lie
// from the server's clock.
const WebhookTolerance = 5 * time.Minute

// maxWebhookBody is the largest webhook body, which becomes the run's
// input.
const maxWebhookBody = 1 << 20

// maxSignatures is how many v1= a signature header may carry.
const maxSignatures = 8

// signature is a parsed SignatureHeader.
type signature struct {
	t    int64
	macs [][]byte
}

// parseSignature parses "t=<unix>,v1=<hex>[,v1=<hex>…]"; other keys are
// ignored, for schemes to come.
func parseSignature(h string) (signature, error) {
	var sig signature
	seenT := false
	if len(h) > 4096 {
		return sig, errors.New("the signature header is longer than 4096 bytes")
	}
	for part := range strings.SplitSeq(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return sig, fmt.Errorf("%q is not key=value", part)
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 || seenT {
				return sig, fmt.Errorf("t=%q is not one time in Unix seconds", v)
			}
			sig.t, seenT = n, true
		case "v1":
			mac, err := hex.DecodeString(v)
			if err != nil || len(mac) != sha256.Size {
				return sig, fmt.Errorf("v1=%q is not a hex HMAC-SHA256", v)
			}
			if len(sig.macs) == maxSignatures {
				return sig, fmt.Errorf("more than %d v1= signatures", maxSignatures)
			}
			sig.macs = append(sig.macs, mac)
		}
	}
	switch {
	case !seenT:
		return sig, errors.New("no t=<unix seconds>")
	case len(sig.macs) == 0:
		return sig, errors.New("no v1=<hex HMAC-SHA256>")
	}
	return sig, nil
}

// SignWebhook returns the SignatureHeader value of body signed with
// secret at time t, as a sender computes it.
func SignWebhook(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(webhookMAC(secret, ts, body))
}

func webhookMAC(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// verify checks sig against body, secret and the time now.
func (sig signature) verify(secret, body []byte, now time.Time) error {
	at := time.Unix(sig.t, 0)
	if d := now.Sub(at); d > WebhookTolerance || d < -WebhookTolerance {
		return fmt.Errorf("the signature's time %s is more than %s from the server's", at.UTC().Format(time.RFC3339), WebhookTolerance)
	}
	want := webhookMAC(secret, strconv.FormatInt(sig.t, 10), body)
	for _, mac := range sig.macs {
		if hmac.Equal(mac, want) {
			return nil
		}
	}
	return errors.New("no v1= signature matches the body")
}

// seenHooks remembers the signatures accepted within the tolerance, so
// that a request is accepted once: a replay within the window is refused.
type seenHooks struct {
	mu   sync.Mutex
	seen map[string]time.Time // hex MAC → its signing time
}

// maxSeenHooks bounds the signatures remembered; past it, the oldest are
// forgotten first only once out of the window, and further ones refused.
const maxSeenHooks = 100_000

// use records mac, signed at t, and reports whether it was new.
func (h *seenHooks) use(mac []byte, t, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen == nil {
		h.seen = map[string]time.Time{}
	}
	for k, at := range h.seen {
		if now.Sub(at) > WebhookTolerance || at.Sub(now) > WebhookTolerance {
			delete(h.seen, k)
		}
	}
	k := hex.EncodeToString(mac)
	if _, ok := h.seen[k]; ok || len(h.seen) >= maxSeenHooks {
		return false
	}
	h.seen[k] = t
	return true
}

// webhook serves POST /hooks/{app}/{task}.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) error {
	appName, task := chi.URLParam(r, "app"), chi.URLParam(r, "task")
	notFound := errorf(http.StatusNotFound, "", "no webhook %s/%s", appName, task)
	secret, err := s.eng.WebhookSecret(r.Context(), appName, task)
	switch {
	case errors.Is(err, engine.ErrNoWebhook):
		return notFound
	case err != nil:
		s.log.WarnContext(r.Context(), "webhook", "app", appName, "task", task, "error", err)
		return notFound
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return errorf(http.StatusRequestEntityTooLarge, "", "the body is larger than %d bytes", maxWebhookBody)
	case err != nil:
		return errorf(http.StatusBadRequest, "", "reading the body: %v", err)
	}
	sig, err := parseSignature(r.Header.Get(SignatureHeader))
	now := s.cfg.Clock.Now()
	if err == nil {
		err = sig.verify(secret, body, now)
	}
	if err == nil && !s.hooks.use(webhookMAC(secret, strconv.FormatInt(sig.t, 10), body), time.Unix(sig.t, 0), now) {
		err = errors.New("this signature was used already")
	}
	if err != nil {
		return errorf(http.StatusUnauthorized, SignatureHeader, "%s: %v", SignatureHeader, err)
	}
	var input json.RawMessage
	if len(body) > 0 {
		if !json.Valid(body) {
			return errorf(http.StatusBadRequest, "", "the body is not JSON; it becomes the run's input")
		}
		input = body
	}
	id, err := s.eng.Trigger(r.Context(), appName, task, input, "webhook")
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]int64{"run": id})
}
