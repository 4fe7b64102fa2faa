package chaoslab

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
)

func TestParseFault(t *testing.T) {
	tests := []struct {
		line    string
		want    Rule
		wantErr string // substring of the error; "" means success
	}{
		{line: "dynamodb.us-east-1.aws.internal nodata",
			want: Rule{Name: "dynamodb.us-east-1.aws.internal.", Mode: ModeNoData, Probability: 1}},
		{line: "*.us-east-1.aws.internal nxdomain probability 0.3 scenario default/ddb",
			want: Rule{Name: "us-east-1.aws.internal.", Wildcard: true, Mode: ModeNXDomain, Probability: 0.3, Scenario: "default/ddb"}},
		{line: "IAM.aws.internal. servfail",
			want: Rule{Name: "iam.aws.internal.", Mode: ModeServfail, Probability: 1}},
		{line: "a.b delay delay 800ms",
			want: Rule{Name: "a.b.", Mode: ModeDelay, Probability: 1, Delay: 800 * time.Millisecond}},
		{line: "a.b redirect redirect 192.0.2.10",
			want: Rule{Name: "a.b.", Mode: ModeRedirect, Probability: 1}},
		{line: "a.b truncate probability 1", want: Rule{Name: "a.b.", Mode: ModeTruncate, Probability: 1}},
		{line: "a.b timeout", want: Rule{Name: "a.b.", Mode: ModeTimeout, Probability: 1}},
		{line: "a.b refused", want: Rule{Name: "a.b.", Mode: ModeRefused, Probability: 1}},

		{line: "a.b", wantErr: `got "a.b"`},
		{line: "a.b explode", wantErr: `invalid mode "explode"`},
		{line: "a_b.c nxdomain", wantErr: `invalid target "a_b.c"`},
		{line: "-a.b nxdomain", wantErr: `invalid target "-a.b"`},
		{line: "a..b nxdomain", wantErr: `invalid target "a..b"`},
		{line: "*.*.b nxdomain", wantErr: `invalid target "*.*.b"`},
		{line: "* nxdomain", wantErr: `invalid target "*"`},
		{line: strings.Repeat("a", 64) + ".b nxdomain", wantErr: `is not an RFC 1123 label`},
		{line: strings.Repeat("abcdefg.", 32) + "com nxdomain", wantErr: `invalid target`},
		{line: "a.b nxdomain probability 0", wantErr: `invalid probability "0"`},
		{line: "a.b nxdomain probability 1.5", wantErr: `invalid probability "1.5"`},
		{line: "a.b nxdomain probability NaN", wantErr: `invalid probability "NaN"`},
		{line: "a.b nxdomain probability", wantErr: `option "probability" has no value`},
		{line: "a.b nxdomain probability 0.5 probability 0.5", wantErr: `given twice`},
		{line: "a.b nxdomain colour red", wantErr: `unknown option "colour"`},
		{line: "a.b delay", wantErr: `"delay" is required with mode delay`},
		{line: "a.b delay delay 0s", wantErr: `invalid delay "0s"`},
		{line: "a.b delay delay 31s", wantErr: `invalid delay "31s"`},
		{line: "a.b delay delay soon", wantErr: `invalid delay "soon"`},
		{line: "a.b nxdomain delay 1s", wantErr: `only allowed there`},
		{line: "a.b redirect", wantErr: `"redirect" is required with mode redirect`},
		{line: "a.b redirect redirect 2001:db8::1", wantErr: `invalid redirect "2001:db8::1"`},
		{line: "a.b redirect redirect ::ffff:192.0.2.1", wantErr: `invalid redirect "::ffff:192.0.2.1"`},
		{line: "a.b redirect redirect example.com", wantErr: `invalid redirect "example.com"`},
		{line: "a.b servfail redirect 192.0.2.1", wantErr: `only allowed there`},
		{line: "a.b servfail scenario nope", wantErr: `invalid scenario "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			got, err := parseFault(strings.Fields(tc.line))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got.Redirect != nil {
				if got.Redirect.String() != "192.0.2.10" || len(got.Redirect) != 4 {
					t.Errorf("redirect = %v", got.Redirect)
				}
				got.Redirect = nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseBlock(t *testing.T) {
	tests := []struct {
		input   string
		rules   int
		wantErr string
	}{
		{input: "chaoslab", rules: 0},
		{input: "chaoslab {\n}", rules: 0},
		{input: "chaoslab {\n fault a.b nxdomain\n fault *.b servfail probability 0.5\n}", rules: 2},
		{input: "chaoslab {\n fault a.b nxdomain\n}\nchaoslab {\n fault c.d nodata\n}", rules: 2},
		{input: "chaoslab extra", wantErr: `takes no arguments, got "extra"`},
		{input: "chaoslab {\n drop a.b\n}", wantErr: `unknown property "drop"`},
		{input: "chaoslab {\n fault a.b nope\n}", wantErr: `invalid mode "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.input, func(t *testing.T) {
			rules, err := parse(caddy.NewTestController("dns", tc.input))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(rules) != tc.rules {
				t.Fatalf("got %d rules, err %v; want %d rules", len(rules), err, tc.rules)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	exact := Rule{Name: "ddb.us-east-1.aws.internal."}
	wild := Rule{Name: "us-east-1.aws.internal.", Wildcard: true}
	tests := []struct {
		rule  Rule
		qname string
		want  bool
	}{
		{exact, "ddb.us-east-1.aws.internal.", true},
		{exact, "DDB.US-EAST-1.aws.internal.", true},
		{exact, "x.ddb.us-east-1.aws.internal.", false},
		{exact, "sqs.us-east-1.aws.internal.", false},
		{wild, "ddb.us-east-1.aws.internal.", true},
		{wild, "a.b.us-east-1.aws.internal.", true},
		{wild, "us-east-1.aws.internal.", false},
		{wild, "xus-east-1.aws.internal.", false},
		{wild, "ddb.us-west-2.aws.internal.", false},
	}
	for _, tc := range tests {
		if got := tc.rule.Matches(tc.qname); got != tc.want {
			t.Errorf("%+v.Matches(%q) = %v, want %v", tc.rule, tc.qname, got, tc.want)
		}
	}
}
