// Package chaoslab injects DNS faults for the DNS Chaos Lab.
//
// It sits in front of the plugins that answer (cache, rewrite, hosts, file, kubernetes,
// forward) so a fault can either answer for them (nxdomain, servfail, refused, nodata,
// redirect), swallow the query (timeout), or let them answer and change how the answer
// arrives (delay, truncate). Rules come only from the Corefile; the first matching rule
// whose probability roll succeeds applies, otherwise the query passes through untouched.
//
// Every rule the chaoslab compiler writes carries its own absolute end (`until`): once it
// has passed (plus SkewMargin) the rule no longer applies, whether or not anything rewrites
// the Corefile. That is the dead-man's switch for an operator that died mid-scenario.
// A phased scenario's later rules also carry a start (`from`): the compiler writes every
// phase at once, and CoreDNS's clock switches between them with no Corefile write.
package chaoslab

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"
	"github.com/coredns/coredns/plugin/pkg/nonwriter"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
)

// redirectTTL is short so a redirect stops being believed soon after it is reverted.
const redirectTTL = 5

// Chaoslab is the plugin handler.
type Chaoslab struct {
	Next  plugin.Handler
	Rules []Rule
	// roll returns a number in [0, 1); replaced in tests to make probabilities exact.
	roll func() float64
	// now is the clock rule ends are compared with; replaced in tests.
	now func() time.Time
}

// New returns a handler for rules, evaluated in order.
func New(rules []Rule) *Chaoslab {
	return &Chaoslab{Rules: rules, roll: rand.Float64, now: time.Now}
}

// Name implements plugin.Handler.
func (c *Chaoslab) Name() string { return pluginName }

// pick returns the first rule that matches qname and the client, is live now, and wins
// its probability roll. The clock and the client's address are read only once a rule's name
// matches, so untargeted names pay nothing for them.
func (c *Chaoslab) pick(qname string, w dns.ResponseWriter) *Rule {
	var now time.Time
	var src netip.Addr
	srcRead := false
	for i := range c.Rules {
		r := &c.Rules[i]
		if !r.Matches(qname) {
			continue
		}
		if r.Scoped {
			if !srcRead {
				src, srcRead = remoteAddr(w), true
			}
			if !r.Serves(src) {
				continue
			}
		}
		if r.timed() {
			if now.IsZero() {
				now = c.now()
			}
			if !r.Live(now) {
				continue
			}
		}
		if r.Probability >= 1 || c.roll() < r.Probability {
			return r
		}
	}
	return nil
}

// remoteAddr is the query's source address; the zero Addr when unknown (a scoped rule then
// does not fire).
func remoteAddr(w dns.ResponseWriter) netip.Addr {
	var ip net.IP
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	default:
		return netip.Addr{}
	}
	addr, _ := netip.AddrFromSlice(ip)
	return addr.Unmap()
}

// ServeDNS implements plugin.Handler.
func (c *Chaoslab) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	state := request.Request{W: w, Req: r}
	rule := c.pick(state.Name(), w)
	if rule == nil {
		return plugin.NextOrFailure(c.Name(), c.Next, ctx, w, r)
	}
	faultsInjected.WithLabelValues(metrics.WithServer(ctx), string(rule.Mode), rule.Scenario).Inc()

	switch rule.Mode {
	case ModeTimeout:
		// Write nothing and report success, so the server does not answer either.
		return dns.RcodeSuccess, nil
	case ModeDelay:
		t := time.NewTimer(rule.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return dns.RcodeServerFailure, ctx.Err()
		}
		return plugin.NextOrFailure(c.Name(), c.Next, ctx, w, r)
	case ModeTruncate:
		if state.Proto() != "udp" {
			return plugin.NextOrFailure(c.Name(), c.Next, ctx, w, r)
		}
		return c.truncate(ctx, state)
	}

	m := new(dns.Msg)
	switch rule.Mode {
	case ModeNXDomain:
		m.SetRcode(r, dns.RcodeNameError)
		m.Authoritative = true
	case ModeServfail:
		m.SetRcode(r, dns.RcodeServerFailure)
	case ModeRefused:
		m.SetRcode(r, dns.RcodeRefused)
	case ModeNoData:
		m.SetReply(r)
		m.Authoritative = true
	case ModeRedirect:
		m.SetReply(r)
		m.Authoritative = true
		if state.QType() == dns.TypeA {
			m.Answer = []dns.RR{&dns.A{
				Hdr: dns.RR_Header{Name: state.QName(), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: redirectTTL},
				A:   rule.Redirect,
			}}
		}
	}
	state.SizeAndDo(m)
	w.WriteMsg(m)
	// The response is written; RcodeSuccess tells the server not to write an error reply too.
	return dns.RcodeSuccess, nil
}

// truncate lets the rest of the chain answer, then sends that answer's header with TC set and
// no records, so a conforming client retries over TCP and gets the true answer there.
func (c *Chaoslab) truncate(ctx context.Context, state request.Request) (int, error) {
	nw := nonwriter.New(state.W)
	rcode, err := plugin.NextOrFailure(c.Name(), c.Next, ctx, nw, state.Req)
	if nw.Msg == nil {
		return rcode, err // nothing written: let the server handle rcode as usual
	}
	m := nw.Msg.Copy()
	m.Truncated = true
	m.Answer, m.Ns = nil, nil
	extra := m.Extra[:0]
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	m.Extra = extra
	state.W.WriteMsg(m)
	return dns.RcodeSuccess, err
}
