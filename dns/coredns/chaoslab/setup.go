package chaoslab

import (
	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
)

const pluginName = "chaoslab"

func init() { plugin.Register(pluginName, setup) }

func setup(c *caddy.Controller) error {
	rules, err := parse(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	h := New(rules)
	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		h.Next = next
		return h
	})
	return nil
}
