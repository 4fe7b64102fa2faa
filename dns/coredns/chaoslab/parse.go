package chaoslab

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/caddy"
)

// maxDelay bounds `delay`: a longer stall is indistinguishable from a timeout for every
// client, and a bound keeps a typo from parking a goroutine per query for hours.
const maxDelay = 30 * time.Second

var (
	// RFC 1123 label: letters, digits, inner hyphens, 1..63 characters (lower case after folding).
	labelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// Kubernetes namespace/name, as written by the chaoslab compiler.
	scenarioRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?/[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$`)
)

// parse reads every `chaoslab` block of one server block into an ordered rule list.
// An empty block is valid and injects nothing, so the compiler can always emit one.
func parse(c *caddy.Controller) ([]Rule, error) {
	var rules []Rule
	for c.Next() { // "chaoslab"
		if args := c.RemainingArgs(); len(args) > 0 {
			return nil, c.Errf("chaoslab takes no arguments, got %q", strings.Join(args, " "))
		}
		for c.NextBlock() {
			if c.Val() != "fault" {
				return nil, c.Errf("unknown property %q (want \"fault\")", c.Val())
			}
			r, err := parseFault(c.RemainingArgs())
			if err != nil {
				return nil, c.Errf("fault: %v", err)
			}
			rules = append(rules, r)
		}
	}
	handOver(rules)
	return rules, nil
}

// parseFault parses the arguments of one line:
//
//	fault <target> <mode> [probability P] [delay DURATION] [redirect IPv4] [from RFC3339]
//	      [until RFC3339] [clients CIDR,CIDR...|none] [scenario NS/NAME]
func parseFault(args []string) (Rule, error) {
	if len(args) < 2 {
		return Rule{}, fmt.Errorf("want \"fault <target> <mode> [option value]...\", got %q", strings.Join(args, " "))
	}
	r := Rule{Probability: 1}
	name, wildcard, err := parseTarget(args[0])
	if err != nil {
		return Rule{}, err
	}
	r.Name, r.Wildcard = name, wildcard
	mode, ok := modes[args[1]]
	if !ok {
		return Rule{}, fmt.Errorf("invalid mode %q (want one of nxdomain, servfail, refused, nodata, timeout, delay, truncate, redirect)", args[1])
	}
	r.Mode = mode

	opts := args[2:]
	if len(opts)%2 != 0 {
		return Rule{}, fmt.Errorf("option %q has no value", opts[len(opts)-1])
	}
	seen := map[string]bool{}
	for i := 0; i < len(opts); i += 2 {
		key, val := opts[i], opts[i+1]
		if seen[key] {
			return Rule{}, fmt.Errorf("option %q given twice", key)
		}
		seen[key] = true
		switch key {
		case "probability":
			p, err := strconv.ParseFloat(val, 64)
			if err != nil || !(p > 0 && p <= 1) {
				return Rule{}, fmt.Errorf("invalid probability %q: want a number in (0, 1]", val)
			}
			r.Probability = p
		case "delay":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 || d > maxDelay {
				return Rule{}, fmt.Errorf("invalid delay %q: want a duration in (0s, %s]", val, maxDelay)
			}
			r.Delay = d
		case "redirect":
			ip := net.ParseIP(val)
			if ip == nil || ip.To4() == nil || strings.Contains(val, ":") {
				return Rule{}, fmt.Errorf("invalid redirect %q: want an IPv4 address", val)
			}
			r.Redirect = ip.To4()
		case "from":
			t, err := parseTime("from", val)
			if err != nil {
				return Rule{}, err
			}
			r.setFrom(t)
		case "until":
			t, err := parseTime("until", val)
			if err != nil {
				return Rule{}, err
			}
			r.setUntil(t)
		case "clients":
			prefixes, err := parseClients(val)
			if err != nil {
				return Rule{}, err
			}
			r.Scoped, r.Clients = true, prefixes
		case "scenario":
			if !scenarioRE.MatchString(val) {
				return Rule{}, fmt.Errorf("invalid scenario %q: want namespace/name", val)
			}
			r.Scenario = val
		default:
			return Rule{}, fmt.Errorf("unknown option %q (want probability, delay, redirect, from, until, clients or scenario)", key)
		}
	}
	if seen["from"] && seen["until"] && !r.From.Before(r.Until) {
		return Rule{}, fmt.Errorf("from %s is not before until %s: the rule would never apply",
			r.From.Format(time.RFC3339Nano), r.Until.Format(time.RFC3339Nano))
	}
	if (r.Mode == ModeDelay) != seen["delay"] {
		return Rule{}, fmt.Errorf("option \"delay\" is required with mode delay and only allowed there (mode %q)", r.Mode)
	}
	if (r.Mode == ModeRedirect) != seen["redirect"] {
		return Rule{}, fmt.Errorf("option \"redirect\" is required with mode redirect and only allowed there (mode %q)", r.Mode)
	}
	return r, nil
}

// parseTarget turns "name" or "*.suffix" into the canonical FQDN and the wildcard flag.
func parseTarget(t string) (string, bool, error) {
	name, wildcard := strings.CutPrefix(strings.ToLower(t), "*.")
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return "", false, fmt.Errorf("invalid target %q: want a DNS name or *.<suffix>", t)
	}
	for _, l := range strings.Split(name, ".") {
		if !labelRE.MatchString(l) {
			return "", false, fmt.Errorf("invalid target %q: label %q is not an RFC 1123 label", t, l)
		}
	}
	return name + ".", wildcard, nil
}

// Bounds of a `from`/`until` time: outside them it is a typo, and Unix nanoseconds stay exact.
var (
	untilMin = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	untilMax = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// parseTime reads the value of `from` or `until`: an absolute RFC 3339 time in UTC
// ("2026-12-01T19:00:00Z", fractional seconds allowed). A zone is required and must be Z,
// so the text reads the same everywhere.
func parseTime(option, val string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, val)
	if err != nil || !strings.HasSuffix(val, "Z") {
		return time.Time{}, fmt.Errorf("invalid %s %q: want an RFC 3339 time in UTC, e.g. 2026-12-01T19:00:00Z", option, val)
	}
	if t.Before(untilMin) || !t.Before(untilMax) {
		return time.Time{}, fmt.Errorf("invalid %s %q: want a time between 2000 and 2200", option, val)
	}
	return t, nil
}

// parseClients reads `clients`: comma-separated IPv4/IPv6 addresses or CIDR prefixes, or
// `none`. Prefixes are kept masked (10.0.0.7/24 is 10.0.0.0/24) so matching is exact.
func parseClients(val string) ([]netip.Prefix, error) {
	if val == "none" {
		return nil, nil
	}
	parts := strings.Split(val, ",")
	if len(parts) > maxClients {
		return nil, fmt.Errorf("invalid clients: %d entries, at most %d", len(parts), maxClients)
	}
	out := make([]netip.Prefix, 0, len(parts))
	for _, part := range parts {
		var p netip.Prefix
		var err error
		if strings.Contains(part, "/") {
			p, err = netip.ParsePrefix(part)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(part); err == nil && a.Zone() == "" {
				p = netip.PrefixFrom(a, a.BitLen())
			} else if err == nil {
				err = fmt.Errorf("zoned address")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("invalid clients entry %q: want an IP address or CIDR prefix (e.g. 10.244.0.7 or 10.244.0.0/24), or \"none\"", part)
		}
		out = append(out, netip.PrefixFrom(p.Addr().Unmap(), bitsUnmapped(p)).Masked())
	}
	return out, nil
}

// bitsUnmapped keeps a ::ffff:a.b.c.d/n prefix meaningful once its address is unmapped.
func bitsUnmapped(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return max(p.Bits()-96, 0)
	}
	return p.Bits()
}
