package chaoslab

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

// backend answers every A query with 10.0.0.1, standing in for hosts/file/kubernetes.
var backend = test.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	m.Answer = []dns.RR{test.A(r.Question[0].Name + " 5 IN A 10.0.0.1")}
	m.Ns = []dns.RR{test.NS("aws.internal. 5 IN NS ns.aws.internal.")}
	w.WriteMsg(m)
	return dns.RcodeSuccess, nil
})

func rules(t *testing.T, lines ...string) []Rule {
	t.Helper()
	var out []Rule
	for _, l := range lines {
		r, err := parseFault(strings.Fields(l))
		if err != nil {
			t.Fatalf("parseFault(%q): %v", l, err)
		}
		out = append(out, r)
	}
	return out
}

func TestServeDNS(t *testing.T) {
	const target = "ddb.us-east-1.aws.internal."
	tests := []struct {
		name      string
		rule      string
		qname     string
		qtype     uint16
		tcp       bool
		written   bool // whether any response reaches the client
		rcode     int
		answers   int
		truncated bool
		answerIP  string
	}{
		{"untargeted passes", target + " nxdomain", "sqs.us-east-1.aws.internal.", dns.TypeA, false, true, dns.RcodeSuccess, 1, false, "10.0.0.1"},
		{"nxdomain", target + " nxdomain", target, dns.TypeA, false, true, dns.RcodeNameError, 0, false, ""},
		{"servfail", target + " servfail", target, dns.TypeA, false, true, dns.RcodeServerFailure, 0, false, ""},
		{"refused", target + " refused", target, dns.TypeA, false, true, dns.RcodeRefused, 0, false, ""},
		{"nodata", target + " nodata", target, dns.TypeA, false, true, dns.RcodeSuccess, 0, false, ""},
		{"timeout drops", target + " timeout", target, dns.TypeA, false, false, 0, 0, false, ""},
		{"delay answers truly", target + " delay delay 20ms", target, dns.TypeA, false, true, dns.RcodeSuccess, 1, false, "10.0.0.1"},
		{"truncate udp", target + " truncate", target, dns.TypeA, false, true, dns.RcodeSuccess, 0, true, ""},
		{"truncate tcp is true answer", target + " truncate", target, dns.TypeA, true, true, dns.RcodeSuccess, 1, false, "10.0.0.1"},
		{"redirect A", target + " redirect redirect 192.0.2.10", target, dns.TypeA, false, true, dns.RcodeSuccess, 1, false, "192.0.2.10"},
		{"redirect AAAA is nodata", target + " redirect redirect 192.0.2.10", target, dns.TypeAAAA, false, true, dns.RcodeSuccess, 0, false, ""},
		{"wildcard", "*.us-east-1.aws.internal servfail", target, dns.TypeA, false, true, dns.RcodeServerFailure, 0, false, ""},
		{"wildcard not apex", "*.us-east-1.aws.internal servfail", "us-east-1.aws.internal.", dns.TypeA, false, true, dns.RcodeSuccess, 1, false, "10.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := New(rules(t, tc.rule))
			h.Next = backend
			req := new(dns.Msg)
			req.SetQuestion(tc.qname, tc.qtype)
			rec := dnstest.NewRecorder(&test.ResponseWriter{TCP: tc.tcp})
			start := time.Now()
			rc, err := h.ServeDNS(context.Background(), rec, req)
			if err != nil {
				t.Fatalf("ServeDNS error: %v", err)
			}
			if rc != dns.RcodeSuccess {
				t.Errorf("returned rcode %d; chaoslab writes its own replies and must return 0", rc)
			}
			if !tc.written {
				if rec.Msg != nil {
					t.Fatalf("expected no reply, got %v", rec.Msg)
				}
				return
			}
			if rec.Msg == nil {
				t.Fatal("no reply written")
			}
			m := rec.Msg
			if m.Rcode != tc.rcode || len(m.Answer) != tc.answers || m.Truncated != tc.truncated {
				t.Errorf("reply rcode=%d answers=%d tc=%v; want %d %d %v", m.Rcode, len(m.Answer), m.Truncated, tc.rcode, tc.answers, tc.truncated)
			}
			if tc.truncated && len(m.Ns) != 0 {
				t.Errorf("truncated reply keeps authority records: %v", m.Ns)
			}
			if tc.answerIP != "" && len(m.Answer) == 1 {
				if a, ok := m.Answer[0].(*dns.A); !ok || !a.A.Equal(net.ParseIP(tc.answerIP)) || a.Hdr.Name != tc.qname {
					t.Errorf("answer = %v, want %s A %s", m.Answer[0], tc.qname, tc.answerIP)
				}
			}
			if tc.name == "delay answers truly" && time.Since(start) < 20*time.Millisecond {
				t.Errorf("delay returned after %v", time.Since(start))
			}
		})
	}
}

func TestFirstFiringRuleWins(t *testing.T) {
	h := New(rules(t,
		"ddb.aws.internal nxdomain probability 0.5",
		"*.aws.internal servfail",
	))
	h.Next = backend
	for _, tc := range []struct {
		roll float64
		want int
	}{{0.1, dns.RcodeNameError}, {0.9, dns.RcodeServerFailure}} {
		h.roll = func() float64 { return tc.roll }
		req := new(dns.Msg)
		req.SetQuestion("ddb.aws.internal.", dns.TypeA)
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		h.ServeDNS(context.Background(), rec, req)
		if rec.Msg.Rcode != tc.want {
			t.Errorf("roll %v: rcode %d, want %d", tc.roll, rec.Msg.Rcode, tc.want)
		}
	}
}

func TestProbabilityShare(t *testing.T) {
	h := New(rules(t, "ddb.aws.internal nxdomain probability 0.3"))
	h.Next = backend
	const n = 10000
	fired := 0
	for range n {
		req := new(dns.Msg)
		req.SetQuestion("ddb.aws.internal.", dns.TypeA)
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		h.ServeDNS(context.Background(), rec, req)
		if rec.Msg.Rcode == dns.RcodeNameError {
			fired++
		}
	}
	if share := float64(fired) / n; share < 0.27 || share > 0.33 {
		t.Errorf("share %.3f, want 0.3 ± 0.03", share)
	}
}

func TestDelayRespectsContext(t *testing.T) {
	h := New(rules(t, "ddb.aws.internal delay delay 10s"))
	h.Next = backend
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req := new(dns.Msg)
	req.SetQuestion("ddb.aws.internal.", dns.TypeA)
	start := time.Now()
	_, err := h.ServeDNS(ctx, dnstest.NewRecorder(&test.ResponseWriter{}), req)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("err=%v after %v; want context error promptly", err, time.Since(start))
	}
}
