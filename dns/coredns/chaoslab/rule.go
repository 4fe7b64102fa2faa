package chaoslab

import (
	"net"
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
