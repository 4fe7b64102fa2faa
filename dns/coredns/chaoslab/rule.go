package chaoslab

import (
	"net"
	"net/netip"
	"strings"
	"time"
)

// Mode is what a client observes when a fault fires.
type Mode string

// The eight fault modes. The names match OutageScenario's spec.faults[].mode.
const (
	ModeNXDomain Mode = "nxdomain" // rcode NXDOMAIN
	ModeServfail Mode = "servfail" // rcode SERVFAIL
	ModeRefused  Mode = "refused"  // rcode REFUSED
	ModeNoData   Mode = "nodata"   // NOERROR with an empty answer
	ModeTimeout  Mode = "timeout"  // the query is dropped: no answer at all
	ModeDelay    Mode = "delay"    // the true answer, Delay later
	ModeTruncate Mode = "truncate" // TC bit over UDP, the true answer over TCP
	ModeRedirect Mode = "redirect" // A -> Redirect; every other type NODATA
)

var modes = map[string]Mode{
	string(ModeNXDomain): ModeNXDomain,
	string(ModeServfail): ModeServfail,
	string(ModeRefused):  ModeRefused,
	string(ModeNoData):   ModeNoData,
	string(ModeTimeout):  ModeTimeout,
	string(ModeDelay):    ModeDelay,
	string(ModeTruncate): ModeTruncate,
	string(ModeRedirect): ModeRedirect,
}

// Rule is one parsed `fault` line.
type Rule struct {
	// Name is the target in canonical form: lower case, fully qualified, without "*.".
	Name string
	// Wildcard means the rule matches names strictly below Name, never Name itself.
	Wildcard    bool
	Mode        Mode
	Probability float64       // in (0, 1]; 1 means every matching query
	Delay       time.Duration // ModeDelay only
	Redirect    net.IP        // ModeRedirect only, IPv4
	Scenario    string        // "namespace/name" for metrics; may be empty
	// Scoped means the rule applies only to queries from Clients (`clients`); a scoped rule
	// with no prefixes (`clients none`: a selector that matches no pod yet) applies to nobody.
	Scoped  bool
	Clients []netip.Prefix
	// From is the rule's absolute start as written (`from`); zero means from its load. The
	// rule is inert while the clock reads before From (a later phase of a scenario).
	From time.Time
	// Until is the rule's absolute end as written (`until`); zero means no end. The rule
	// applies while the clock reads before Until + SkewMargin, or before Until exactly when
	// it hands over to a later phase of its scenario (see handOver).
	Until time.Time
	start int64 // From in Unix nanoseconds; 0: no start
	stop  int64 // Until (+ SkewMargin unless handed over) in Unix nanoseconds; 0: no end
}

// SkewMargin is how long past its written end a rule still applies. It absorbs a CoreDNS
// clock up to this much ahead of the operator's, so the data plane never cuts a fault
// shorter than the scenario the operator runs; with the operator gone, a fault outlives its
// scenario by at most this margin plus however far CoreDNS's clock is behind.
const SkewMargin = time.Second

// setUntil records the rule's end and precomputes the instant it stops applying.
func (r *Rule) setUntil(t time.Time) {
	r.Until = t
	r.stop = t.Add(SkewMargin).UnixNano()
}

// setFrom records the rule's start.
func (r *Rule) setFrom(t time.Time) {
	r.From = t
	r.start = t.UnixNano()
}

// timed reports whether the rule has a start or an end, i.e. whether Live needs the clock.
func (r *Rule) timed() bool { return r.start != 0 || r.stop != 0 }

// Live reports whether the rule applies at now: at or after its start, before its end
// (always, for a rule with neither).
func (r *Rule) Live(now time.Time) bool {
	n := now.UnixNano()
	return (r.start == 0 || n >= r.start) && (r.stop == 0 || n < r.stop)
}

// Ended reports whether the rule will never apply again after now.
func (r *Rule) Ended(now time.Time) bool { return r.stop != 0 && now.UnixNano() >= r.stop }

// handOver drops the skew margin from every rule that ends before another rule of the same
// scenario does: that end is a boundary between two phases of one scenario, which the
// compiler wrote in advance and CoreDNS's clock alone keeps, so the switch is exact. The
// margin stays on each scenario's last end, the one the operator also computes and reverts
// at (the dead-man's switch). Rules without a scenario keep their margin.
func handOver(rules []Rule) {
	last := map[string]time.Time{}
	for _, r := range rules {
		if r.Scenario != "" && r.Until.After(last[r.Scenario]) {
			last[r.Scenario] = r.Until
		}
	}
	for i := range rules {
		r := &rules[i]
		if r.Scenario != "" && !r.Until.IsZero() && r.Until.Before(last[r.Scenario]) {
			r.stop = r.Until.UnixNano()
		}
	}
}

// Target is the rule's target as written in a Corefile ("*.suffix." for a wildcard).
func (r *Rule) Target() string {
	if r.Wildcard {
		return "*." + r.Name
	}
	return r.Name
}

// Matches reports whether the rule targets qname (any case, fully qualified).
func (r *Rule) Matches(qname string) bool {
	q := strings.ToLower(qname)
	if !r.Wildcard {
		return q == r.Name
	}
	// Strictly below: "x.suffix." matches "*.suffix", "suffix." does not.
	return len(q) > len(r.Name) && strings.HasSuffix(q, r.Name) && q[len(q)-len(r.Name)-1] == '.'
}

// maxClients bounds `clients`: enough for every pod a selector can match on a lab cluster,
// small enough that a linear scan of the prefixes costs less than the name comparison.
const maxClients = 4096

// Serves reports whether the rule applies to a query from src (always, if unscoped). An
// invalid src (no address known) never matches a scoped rule: fail towards "no fault".
func (r *Rule) Serves(src netip.Addr) bool {
	if !r.Scoped {
		return true
	}
	src = src.Unmap()
	for _, p := range r.Clients {
		if p.Contains(src) {
			return true
		}
	}
	return false
}
