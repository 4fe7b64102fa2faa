package chaoslab

import (
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
)

var log = clog.NewWithPlugin(pluginName)

const pluginName = "chaoslab"

func init() { plugin.Register(pluginName, setup) }

func setup(c *caddy.Controller) error {
	rules, err := parse(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	// A rule already past its end is kept but never applies; say so, once, for whoever
	// reads the log wondering why a fault in the Corefile has no effect.
	now := time.Now()
	for _, r := range rules {
		if r.Ended(now) {
			log.Infof("fault %s %s (scenario %q) ended at %s, before this load: inert",
				r.Target(), r.Mode, r.Scenario, r.Until.Format(time.RFC3339Nano))
		}
	}
	h := New(rules)
	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		h.Next = next
		return h
	})
	return nil
}
