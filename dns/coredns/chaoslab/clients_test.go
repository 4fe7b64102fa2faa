package chaoslab

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

func TestParseClients(t *testing.T) {
	tests := []struct {
		val     string
		want    []string // the prefixes as kept; nil with wantErr "" means `none`
		wantErr string
	}{
		{val: "none"},
		{val: "10.244.0.7", want: []string{"10.244.0.7/32"}},
		{val: "10.244.0.7/24,10.96.0.10", want: []string{"10.244.0.0/24", "10.96.0.10/32"}},
		{val: "127.0.0.1,::1", want: []string{"127.0.0.1/32", "::1/128"}},
		{val: "::ffff:10.1.2.3", want: []string{"10.1.2.3/32"}},
		{val: "::ffff:10.1.2.0/120", want: []string{"10.1.2.0/24"}},
		{val: "2001:db8::/32", want: []string{"2001:db8::/32"}},

		{val: "", wantErr: `invalid clients entry ""`},
		{val: "10.0.0.1,", wantErr: `invalid clients entry ""`},
		{val: "10.0.0.300", wantErr: `invalid clients entry "10.0.0.300"`},
		{val: "10.0.0.0/33", wantErr: `invalid clients entry "10.0.0.0/33"`},
		{val: "lambda", wantErr: `invalid clients entry "lambda"`},
		{val: "fe80::1%eth0", wantErr: `invalid clients entry "fe80::1%eth0"`},
		{val: strings.Repeat("10.0.0.1,", maxClients) + "10.0.0.1", wantErr: "at most 4096"},
	}
	for _, tc := range tests {
		name := tc.val
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			got, err := parseClients(tc.val)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			if strings.Join(s, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("prefixes = %v, want %v", s, tc.want)
			}
		})
	}
}

func TestParseFaultWithClients(t *testing.T) {
	r, err := parseFault(strings.Fields("iam.aws.internal servfail clients 10.244.0.5,10.244.0.6 scenario default/lambda-only"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Scoped || len(r.Clients) != 2 || r.Scenario != "default/lambda-only" {
		t.Fatalf("rule = %+v", r)
	}
	r, err = parseFault(strings.Fields("iam.aws.internal servfail clients none"))
	if err != nil || !r.Scoped || len(r.Clients) != 0 {
		t.Fatalf("clients none: rule %+v, err %v", r, err)
	}
	if _, err := parseFault(strings.Fields("iam.aws.internal servfail clients 10.0.0.1 clients 10.0.0.2")); err == nil ||
		!strings.Contains(err.Error(), "given twice") {
		t.Fatalf("a repeated clients option must be refused, got %v", err)
	}
	if _, err := parseFault(strings.Fields("iam.aws.internal servfail clients")); err == nil ||
		!strings.Contains(err.Error(), `"clients" has no value`) {
		t.Fatalf("clients without a value must be refused, got %v", err)
	}
}

func TestServes(t *testing.T) {
	scoped := rules(t, "a.b servfail clients 10.244.0.0/24,127.0.0.5")[0]
	none := rules(t, "a.b servfail clients none")[0]
	all := rules(t, "a.b servfail")[0]
	tests := []struct {
		rule Rule
		src  string // "" is an unknown source
		want bool
	}{
		{scoped, "10.244.0.9", true},
		{scoped, "10.244.1.9", false},
		{scoped, "127.0.0.5", true},
		{scoped, "127.0.0.1", false},
		{scoped, "::ffff:10.244.0.9", true},
		{scoped, "", false},
		{none, "10.244.0.9", false},
		{all, "10.244.1.9", true},
		{all, "", true},
	}
	for _, tc := range tests {
		var src netip.Addr
		if tc.src != "" {
			src = netip.MustParseAddr(tc.src)
		}
		if got := tc.rule.Serves(src); got != tc.want {
			t.Errorf("%s.Serves(%q) = %v, want %v", tc.rule.Target(), tc.src, got, tc.want)
		}
	}
}

// TestServeDNSByClient: the same name, asked from two sources, is faulted for one only; a
// later unscoped rule still catches everyone else, in the order written.
func TestServeDNSByClient(t *testing.T) {
	const name = "iam.aws.internal."
	h := New(rules(t, name+" nxdomain clients 127.0.0.5", name+" servfail clients 10.244.0.0/16"))
	h.Next = backend
	for _, tc := range []struct {
		src   string
		tcp   bool
		rcode int
	}{
		{"127.0.0.5", false, dns.RcodeNameError},
		{"127.0.0.5", true, dns.RcodeNameError},
		{"10.244.3.4", false, dns.RcodeServerFailure},
		{"127.0.0.1", false, dns.RcodeSuccess},
		{"::1", true, dns.RcodeSuccess},
	} {
		req := new(dns.Msg)
		req.SetQuestion(name, dns.TypeA)
		rec := dnstest.NewRecorder(&test.ResponseWriter{TCP: tc.tcp, RemoteIP: tc.src})
		if _, err := h.ServeDNS(context.Background(), rec, req); err != nil {
			t.Fatal(err)
		}
		if rec.Msg == nil || rec.Msg.Rcode != tc.rcode {
			t.Errorf("from %s (tcp %v): reply %v, want rcode %s", tc.src, tc.tcp, rec.Msg, dns.RcodeToString[tc.rcode])
		}
	}
}
