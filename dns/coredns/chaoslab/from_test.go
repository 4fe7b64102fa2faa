package chaoslab

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

func TestParseFrom(t *testing.T) {
	tests := []struct {
		line    string
		want    time.Time
		wantErr string
	}{
		{line: "a.b nxdomain from 2026-12-01T19:00:00Z", want: end},
		{line: "a.b nxdomain from 2026-12-01T18:00:00.5Z until 2026-12-01T19:00:00Z scenario ns/x",
			want: end.Add(-time.Hour + 500*time.Millisecond)},
		{line: "a.b nxdomain", want: time.Time{}},
		{line: "a.b nxdomain from later", wantErr: `invalid from "later"`},
		{line: "a.b nxdomain from 2026-12-01T19:00:00+01:00", wantErr: `invalid from "2026-12-01T19:00:00+01:00": want an RFC 3339 time in UTC`},
		{line: "a.b nxdomain from 1999-12-31T23:59:59Z", wantErr: `between 2000 and 2200`},
		{line: "a.b nxdomain from 2026-12-01T19:00:00Z from 2026-12-01T19:00:00Z", wantErr: `"from" given twice`},
		{line: "a.b nxdomain from", wantErr: `option "from" has no value`},
		{line: "a.b nxdomain from 2026-12-01T19:00:00Z until 2026-12-01T19:00:00Z", wantErr: `is not before until`},
		{line: "a.b nxdomain from 2026-12-01T19:00:01Z until 2026-12-01T19:00:00Z", wantErr: `the rule would never apply`},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			r, err := parseFault(strings.Fields(tc.line))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !r.From.Equal(tc.want) {
				t.Errorf("From = %v, want %v", r.From, tc.want)
			}
		})
	}
}

// block parses one chaoslab block the way setup does (hand-overs included).
func block(t *testing.T, lines ...string) []Rule {
	t.Helper()
	rs, err := parse(caddy.NewTestController("dns", "chaoslab {\n fault "+strings.Join(lines, "\n fault ")+"\n}"))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return rs
}

// The 2025 shape as the compiler writes it: empty record until T1, half of the queries
// empty until T2, a clean gap, then SERVFAIL from T3 to the scenario's end T4.
var (
	t1 = end
	t2 = end.Add(time.Minute)
	t3 = end.Add(2 * time.Minute)
	t4 = end.Add(3 * time.Minute)
)

func phased() []string {
	f := func(tm time.Time) string { return tm.Format(time.RFC3339Nano) }
	return []string{
		"ddb.aws.internal nodata until " + f(t1) + " scenario ns/p",
		"ddb.aws.internal servfail from " + f(t1) + " until " + f(t2) + " scenario ns/p",
		"ddb.aws.internal refused from " + f(t3) + " until " + f(t4) + " scenario ns/p",
	}
}

func TestPhasesSwitchOnTheClock(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		want string // what the client sees
	}{
		{"first phase", t1.Add(-time.Second), "NODATA"},
		{"last instant of the first phase", t1.Add(-time.Nanosecond), "NODATA"},
		{"second phase at its start: handed over exactly, no margin", t1, "SERVFAIL"},
		{"second phase", t2.Add(-time.Nanosecond), "SERVFAIL"},
		{"the gap at its start: no margin inside a scenario", t2, "true answer"},
		{"the gap", t3.Add(-time.Nanosecond), "true answer"},
		{"third phase from its start", t3, "REFUSED"},
		{"at the scenario's end, inside the skew margin", t4, "REFUSED"},
		{"just inside the margin", t4.Add(SkewMargin - time.Nanosecond), "REFUSED"},
		{"at end + margin: inert", t4.Add(SkewMargin), "true answer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := New(block(t, phased()...))
			h.Next = backend
			if got := seen(t, h, "ddb.aws.internal.", tc.at); got != tc.want {
				t.Fatalf("at %v: %s, want %s", tc.at, got, tc.want)
			}
		})
	}
}

// TestHandOverKeepsTheMarginElsewhere: only an end before a later end of the same scenario
// loses the margin; another scenario's rule, or one without a scenario, keeps it.
func TestHandOverKeepsTheMarginElsewhere(t *testing.T) {
	f := func(tm time.Time) string { return tm.Format(time.RFC3339Nano) }
	rs := block(t,
		"a.aws.internal nxdomain until "+f(t1)+" scenario ns/p",
		"b.aws.internal nxdomain from "+f(t1)+" until "+f(t2)+" scenario ns/p",
		"c.aws.internal nxdomain until "+f(t1)+" scenario ns/other",
		"d.aws.internal nxdomain until "+f(t1),
		"e.aws.internal nxdomain until "+f(t1)+" scenario ns/p2",
		"f.aws.internal nxdomain until "+f(t1)+" scenario ns/p2",
	)
	at := t1.Add(SkewMargin / 2)
	want := map[string]bool{"a": false, "b": true, "c": true, "d": true, "e": true, "f": true}
	for _, r := range rs {
		if got := r.Live(at); got != want[r.Name[:1]] {
			t.Errorf("%s live at end+%v = %v, want %v", r.Target(), SkewMargin/2, got, want[r.Name[:1]])
		}
	}
}

// seen serves one A query at the given clock reading and names what the client sees.
func seen(t *testing.T, h *Chaoslab, qname string, at time.Time) string {
	t.Helper()
	h.now = func() time.Time { return at }
	req := new(dns.Msg)
	req.SetQuestion(qname, dns.TypeA)
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	if _, err := h.ServeDNS(context.Background(), rec, req); err != nil || rec.Msg == nil {
		t.Fatalf("ServeDNS: %v, reply %v", err, rec.Msg)
	}
	switch {
	case rec.Msg.Rcode != dns.RcodeSuccess:
		return dns.RcodeToString[rec.Msg.Rcode]
	case len(rec.Msg.Answer) == 0:
		return "NODATA"
	}
	return "true answer"
}
