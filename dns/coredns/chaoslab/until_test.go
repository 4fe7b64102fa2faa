package chaoslab

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

var end = time.Date(2026, 12, 1, 19, 0, 0, 0, time.UTC)

func TestParseUntil(t *testing.T) {
	tests := []struct {
		line    string
		want    time.Time
		wantErr string
	}{
		{line: "a.b nxdomain until 2026-12-01T19:00:00Z scenario ns/x", want: end},
		{line: "a.b nxdomain until 2026-12-01T19:00:00.250Z", want: end.Add(250 * time.Millisecond)},
		{line: "a.b nxdomain until 2026-12-01T19:00:00.000000001Z", want: end.Add(time.Nanosecond)},
		{line: "a.b nxdomain", want: time.Time{}},
		{line: "a.b nxdomain until soon", wantErr: `invalid until "soon"`},
		{line: "a.b nxdomain until 2026-12-01", wantErr: `invalid until "2026-12-01"`},
		{line: "a.b nxdomain until 2026-13-01T19:00:00Z", wantErr: `invalid until`},
		{line: "a.b nxdomain until 2026-12-01T19:00:00+01:00", wantErr: `in UTC`},
		{line: "a.b nxdomain until 2026-12-01T19:00:00", wantErr: `in UTC`},
		{line: "a.b nxdomain until 1999-12-31T23:59:59Z", wantErr: `between 2000 and 2200`},
		{line: "a.b nxdomain until 2200-01-01T00:00:00Z", wantErr: `between 2000 and 2200`},
		{line: "a.b nxdomain until 2026-12-01T19:00:00Z until 2026-12-01T19:00:00Z", wantErr: `given twice`},
		{line: "a.b nxdomain until", wantErr: `option "until" has no value`},
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
			if !r.Until.Equal(tc.want) {
				t.Errorf("Until = %v, want %v", r.Until, tc.want)
			}
		})
	}
}

// serve answers one A query for qname with h at the given clock reading.
func serve(t *testing.T, h *Chaoslab, qname string, at time.Time) int {
	t.Helper()
	h.now = func() time.Time { return at }
	req := new(dns.Msg)
	req.SetQuestion(qname, dns.TypeA)
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	if _, err := h.ServeDNS(context.Background(), rec, req); err != nil {
		t.Fatalf("ServeDNS: %v", err)
	}
	if rec.Msg == nil {
		t.Fatal("no reply")
	}
	return rec.Msg.Rcode
}

func TestRuleEnds(t *testing.T) {
	const until = " until 2026-12-01T19:00:00Z"
	tests := []struct {
		name  string
		rules []string
		at    time.Time
		want  int
	}{
		{"before its end", []string{"ddb.aws.internal nxdomain" + until}, end.Add(-time.Hour), dns.RcodeNameError},
		{"at its end, inside the skew margin", []string{"ddb.aws.internal nxdomain" + until}, end, dns.RcodeNameError},
		{"just inside the margin", []string{"ddb.aws.internal nxdomain" + until}, end.Add(SkewMargin - time.Nanosecond), dns.RcodeNameError},
		{"at end + margin: inert", []string{"ddb.aws.internal nxdomain" + until}, end.Add(SkewMargin), dns.RcodeSuccess},
		{"long after: inert", []string{"ddb.aws.internal nxdomain" + until}, end.Add(365 * 24 * time.Hour), dns.RcodeSuccess},
		{"no end: always applies", []string{"ddb.aws.internal nxdomain"}, end.Add(365 * 24 * time.Hour), dns.RcodeNameError},
		{"an ended rule lets the next one apply", []string{
			"ddb.aws.internal nxdomain until 2026-12-01T18:00:00Z",
			"*.aws.internal servfail" + until,
		}, end.Add(-time.Minute), dns.RcodeServerFailure},
		{"both ended: the true answer", []string{
			"ddb.aws.internal nxdomain until 2026-12-01T18:00:00Z",
			"*.aws.internal servfail" + until,
		}, end.Add(time.Minute), dns.RcodeSuccess},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := New(rules(t, tc.rules...))
			h.Next = backend
			if got := serve(t, h, "ddb.aws.internal.", tc.at); got != tc.want {
				t.Errorf("rcode %d at %v, want %d", got, tc.at, tc.want)
			}
		})
	}
}

// TestRuleEndedBeforeLoadIsInert: a rule that ended an hour before it was parsed is accepted
// (a reload must never fail on it) and, on the real clock, injects nothing.
func TestRuleEndedBeforeLoadIsInert(t *testing.T) {
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	rs := rules(t, "ddb.aws.internal nxdomain until "+past)
	h := New(rs)
	h.Next = backend
	h.now = time.Now
	req := new(dns.Msg)
	req.SetQuestion("ddb.aws.internal.", dns.TypeA)
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	h.ServeDNS(context.Background(), rec, req)
	if rec.Msg == nil || rec.Msg.Rcode != dns.RcodeSuccess || len(rec.Msg.Answer) != 1 {
		t.Fatalf("reply %v; want the true answer", rec.Msg)
	}
}

// FuzzRuleEnd checks the one property the dead-man's switch rests on, over arbitrary ends,
// clock readings and probabilities: a rule applies exactly while now < until + SkewMargin,
// an ended rule never shadows a later live one, and the written end parses back exactly.
func FuzzRuleEnd(f *testing.F) {
	f.Add(int64(0), int64(-1), false, 1.0)
	f.Add(int64(0), int64(0), false, 1.0)
	f.Add(int64(0), int64(SkewMargin), true, 0.5)
	f.Add(int64(0), int64(SkewMargin)-1, true, 1.0)
	f.Add(int64(-3600e9), int64(7200e9), false, 0.25)
	f.Add(int64(123456789), int64(-987654321), true, 1.0)
	f.Fuzz(func(t *testing.T, untilOffset, nowOffset int64, wildcard bool, p float64) {
		// Keep both times inside the range parseTime accepts (2000..2200).
		const span = int64(50 * 365 * 24 * time.Hour)
		until := end.Add(time.Duration(untilOffset % span))
		now := until.Add(time.Duration(nowOffset % span))
		if !(p > 0 && p <= 1) {
			p = 1
		}
		target := "ddb.aws.internal"
		if wildcard {
			target = "*.aws.internal"
		}
		text := until.Format(time.RFC3339Nano)
		r, err := parseFault([]string{target, "nxdomain", "until", text})
		if err != nil {
			t.Fatalf("parseFault(until %s): %v", text, err)
		}
		if !r.Until.Equal(until) {
			t.Fatalf("until %s parsed as %v", text, r.Until)
		}
		live := now.Before(until.Add(SkewMargin))
		if r.Live(now) != live {
			t.Fatalf("Live(%v) = %v for until %v, want %v", now, r.Live(now), until, live)
		}
		r.Probability = p
		fallback, err := parseFault([]string{"*.internal", "servfail"})
		if err != nil {
			t.Fatal(err)
		}
		h := New([]Rule{r, fallback})
		h.Next = backend
		h.roll = func() float64 { return 0 } // every roll fires
		h.now = func() time.Time { return now }
		got := h.pick("ddb.aws.internal.", &test.ResponseWriter{})
		want := &h.Rules[1]
		if live {
			want = &h.Rules[0]
		}
		if got != want {
			t.Fatalf("at %v with until %v (live %v): picked %+v", now, until, live, got)
		}
	})
}

// BenchmarkPick16 prices the end check: the faulted name is matched against 16 rules (15
// for other names first), with and without `until` on every rule.
func BenchmarkPick16(b *testing.B) {
	for _, tc := range []struct{ name, until string }{
		{"without ends", ""},
		{"with ends", " until 2199-12-01T19:00:00Z"},
		// The test writer asks from 10.240.0.1: the last prefix, the worst case.
		{"with ends and clients", " until 2199-12-01T19:00:00Z clients 10.244.0.0/24,10.0.0.9,10.240.0.1"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var rs []Rule
			for i := range 15 {
				r, err := parseFault(strings.Fields(fmt.Sprintf("a%02d.us-east-1.aws.internal servfail%s", i, tc.until)))
				if err != nil {
					b.Fatal(err)
				}
				rs = append(rs, r)
			}
			r, err := parseFault(strings.Fields("dynamodb.us-east-1.aws.internal nxdomain" + tc.until))
			if err != nil {
				b.Fatal(err)
			}
			h := New(append(rs, r))
			w := &test.ResponseWriter{}
			for b.Loop() {
				if h.pick("dynamodb.us-east-1.aws.internal.", w) == nil {
					b.Fatal("no rule picked")
				}
			}
		})
	}
}
