package main

import (
	"slices"
	"testing"

	"github.com/coredns/coredns/core/dnsserver"
)

// TestChaoslabOrder pins where chaoslab runs: after everything that only observes a query,
// before everything that rewrites, caches or answers it.
func TestChaoslabOrder(t *testing.T) {
	at := slices.Index(dnsserver.Directives, "chaoslab")
	if at < 0 {
		t.Fatal("chaoslab is not in dnsserver.Directives")
	}
	for _, d := range []string{"prometheus", "errors", "log", "dnstap", "reload"} {
		if i := slices.Index(dnsserver.Directives, d); i < 0 || i > at {
			t.Errorf("%s (at %d) must run before chaoslab (at %d)", d, i, at)
		}
	}
	for _, d := range []string{"rewrite", "acl", "cache", "template", "hosts", "file", "kubernetes", "forward", "erratic"} {
		if i := slices.Index(dnsserver.Directives, d); i < 0 || i < at {
			t.Errorf("%s (at %d) must run after chaoslab (at %d)", d, i, at)
		}
	}
}

func TestWithDirective(t *testing.T) {
	tests := []struct {
		order   []string
		want    []string
		wantErr bool
	}{
		{[]string{"log", "rewrite", "cache"}, []string{"log", "chaoslab", "rewrite", "cache"}, false},
		{[]string{"log", "chaoslab", "rewrite"}, []string{"log", "chaoslab", "rewrite"}, false},
		{[]string{"log", "cache"}, nil, true},
	}
	for _, tc := range tests {
		got, err := withDirective(tc.order, "chaoslab", "rewrite")
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("withDirective(%v) = %v, %v; want %v (err %v)", tc.order, got, err, tc.want, tc.wantErr)
		}
	}
}
