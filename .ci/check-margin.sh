#!/usr/bin/env bash
# Check Lemma R's timing margin with z3 (docs/model/margin.smt2, docs/PROOF.md Lemma R):
# every query in the file is preceded by "; <name> expect <sat|unsat>"; this fails unless
# z3 answers each one as expected (unsat: the margin implies "the holder is told and stops
# acting before anyone may reap"; sat: a weakened margin has a counterexample).
# Installs the Debian package z3 when it is missing. Takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=.ci/lib.sh
source .ci/lib.sh
need_pkg z3 z3

out=$(timeout 300 z3 -T:240 docs/model/margin.smt2)
status=0 n=0 name="" want=""
while IFS= read -r line; do
  case "$line" in
    "; "*" expect "*)
      name=${line#; }; name=${name%% expect *}; want=${line##* expect } ;;
    sat|unsat|unknown|timeout)
      if [ -z "$name" ]; then echo "check-margin: answer '$line' without a query name" >&2; status=1; continue; fi
      n=$((n + 1))
      if [ "$line" = "$want" ]; then
        echo "margin: $name: $line (as expected)"
      else
        echo "check-margin: FAIL: $name: z3 says $line, expected $want" >&2
        status=1
      fi
      name="" ;;
    "(error"*)
      echo "check-margin: z3 error: $line" >&2; status=1 ;;
  esac
done <<<"$out"
queries=$(grep -c '^(check-sat)' docs/model/margin.smt2)
if [ "$n" -ne "$queries" ]; then
  echo "check-margin: FAIL: $n answers for $queries queries" >&2
  status=1
fi
exit "$status"
