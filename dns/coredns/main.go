// Command coredns is stock CoreDNS with the DNS Chaos Lab's chaoslab plugin compiled in.
//
// This is CoreDNS's documented external-plugin build done in Go instead of by editing
// plugin.cfg in a CoreDNS checkout: import every stock plugin, import ours, put ours in
// the directive order, run. See README.md for where chaoslab sits and why.
package main

import (
	"fmt"
	"slices"

	_ "chaoslab.local/dns/coredns/chaoslab"
	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/core/plugin"
	"github.com/coredns/coredns/coremain"
)

// chaoslabBefore is the stock directive chaoslab is inserted in front of. In CoreDNS 1.14
// rewrite is the first plugin that changes or answers the query name (acl, cache, hosts,
// file, kubernetes and forward all come after it), and every observer (log, errors,
// prometheus, dnstap) comes before it.
const chaoslabBefore = "rewrite"

// withDirective returns order with name inserted just before the directive before.
func withDirective(order []string, name, before string) ([]string, error) {
	if slices.Contains(order, name) {
		return order, nil
	}
	i := slices.Index(order, before)
	if i < 0 {
		return nil, fmt.Errorf("directive %q not found in CoreDNS's plugin order", before)
	}
	return slices.Insert(slices.Clone(order), i, name), nil
}

func init() {
	order, err := withDirective(dnsserver.Directives, "chaoslab", chaoslabBefore)
	if err != nil {
		panic(err)
	}
	dnsserver.Directives = order
}

func main() { coremain.Run() }
