package chaoslab

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// faultsInjected counts fired faults, so a game-day report can tell injected failures from
// organic ones. Registered with the default registry, which the prometheus plugin serves.
var faultsInjected = promauto.NewCounterVec(prometheus.CounterOpts{
	Namespace: plugin.Namespace,
	Subsystem: "chaoslab",
	Name:      "faults_injected_total",
	Help:      "Queries answered (or dropped, or delayed) by a chaoslab fault, by mode and scenario.",
}, []string{"server", "mode", "scenario"})
