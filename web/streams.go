package web

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// An event stream ends when its client goes, when the server shuts down,
// when its credential ends (a revoked token, a logged-out session), or
// when one write to it takes longer than Config.StreamWriteTimeout (a
// client that does not read). Each write gets a deadline of its own;
// ending a stream from outside its handler moves the deadline into the
// past, so that a write under way returns at once.

// streamStop ends one stream from outside its handler.
type streamStop struct {
	mu   sync.Mutex
	done chan struct{} // closed by end
	rc   *http.ResponseController
}

// attach gives the stop the stream's connection, whose write deadline end
// moves.
func (st *streamStop) attach(rc *http.ResponseController) {
	st.mu.Lock()
	st.rc = rc
	st.mu.Unlock()
}

// end ends the stream: arm fails from now on, and a write under way fails
// at once.
func (st *streamStop) end() {
	st.mu.Lock()
	defer st.mu.Unlock()
	select {
	case <-st.done:
		return
	default:
	}
	close(st.done)
	if st.rc != nil {
		_ = st.rc.SetWriteDeadline(time.Unix(1, 0))
	}
}

// arm sets the deadline of the next write to timeout from now, and
// reports false when the stream was ended.
func (st *streamStop) arm(timeout time.Duration) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	select {
	case <-st.done:
		return false
	default:
	}
	if st.rc != nil {
		_ = st.rc.SetWriteDeadline(time.Now().Add(timeout))
	}
	return true
}

// endWhere ends the open streams whose principal matches.
func (h *hub) endWhere(match func(*principal) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		if match(sub.p) {
			sub.end()
		}
	}
}

// shutdown ends every open stream, and every stream opened from now on.
func (h *hub) shutdown() {
	h.mu.Lock()
	h.shut = true
	h.mu.Unlock()
	h.endWhere(func(*principal) bool { return true })
}

// endToken ends the streams of the token of hash th, at once: it was
// found revoked.
func (s *Server) endToken(th store.TokenHash) {
	s.hub.endWhere(func(p *principal) bool { return !p.local && p.token.Hash == th })
}

// endSession ends the streams of the browser session of ID hash id: it
// was logged out.
func (s *Server) endSession(id store.SessionHash) {
	s.hub.endWhere(func(p *principal) bool { return p.session != nil && p.session.id == id })
}

// credentialValid reports whether p's token, and its session if it came
// with one, are still valid in the store: a stream checks every
// StreamRecheck, since a token may be revoked by another process (the
// CLI writes the store directly). A store that fails keeps the stream.
func (s *Server) credentialValid(ctx context.Context, p *principal) bool {
	if p.local {
		return true
	}
	q, err := s.tokenPrincipal(ctx, p.token.Hash)
	if err != nil {
		s.log.WarnContext(ctx, "checking an event stream's token", slog.Any("error", err))
		return true
	}
	if q == nil {
		return false
	}
	if p.session == nil {
		return true
	}
	_, ok, err := s.st.Sessions.Session(ctx, p.session.id)
	if err != nil {
		s.log.WarnContext(ctx, "checking an event stream's session", slog.Any("error", err))
		return true
	}
	return ok
}
