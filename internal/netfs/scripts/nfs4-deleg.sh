#!/bin/sh
# Shows whether a change made through one of the guest's NFSv4.2 mounts
# recalls the read delegation the other holds: it lists nfsd's clients, has B
# read a file and A set its mtime, and reports how long B's stat takes to see
# it. With both mounts one client (nosharecache alone), nfsd does not recall
# a delegation for that client's own change and B never sees it; the guest
# now mounts B as a second client (guest-init.sh), and B sees it in seconds.
# Run in the test VM (vm-up.sh first) with the netfs test binary as the
# shell launcher:
#   CRYOLOCK_NETFS_HELPER=sh bash internal/netfs/scripts/vm-run.sh -t 400 \
#     NETFS_TEST_BINARY -c "$(cat internal/netfs/scripts/nfs4-deleg.sh)"
# Takes up to about 5 minutes (it waits up to 90 s for each mtime).
set -u
A=/mnt/nfs4a B=/mnt/nfs4b
d=deleg-$(date +%s)
mkdir $A/$d
while ! [ -d $B/$d ]; do sleep 0.2; done
echo "== nfsd clients: $(ls /proc/fs/nfsd/clients | wc -l)"
for c in /proc/fs/nfsd/clients/*; do grep -E 'clientid|name' $c/info; done
deleg() { echo "   delegations held: $(cat /proc/fs/nfsd/clients/*/states | grep -c 'type: deleg')"; }
# watch FILE MTIME fresh|plain: until B's stat shows MTIME (up to 90 s)
watch() {
  t0=$(date +%s.%N) i=0
  while :; do
    [ "$3" = fresh ] && cat $B/$d/$1 >/dev/null
    m=$(stat -c %Y $B/$d/$1)
    if [ "$m" = "$2" ]; then
      echo "   $1 ($3 stat): B saw the mtime after $(awk -v a=$(date +%s.%N) -v b=$t0 'BEGIN{printf "%.2f", a-b}') s"
      return
    fi
    i=$((i + 1))
    if [ $i -ge 180 ]; then echo "   $1 ($3 stat): B did NOT see mtime $2 within 90 s (still $m)"; return; fi
    sleep 0.5
  done
}
for f in opened plain; do
  echo hi >$A/$d/$f
  while ! [ -e $B/$d/$f ]; do sleep 0.2; done
  [ $f = opened ] && cat $B/$d/$f >/dev/null
  stat -c %Y $B/$d/$f >/dev/null
done
echo "== B read 'opened' and stat'ed 'plain'"; deleg
for f in opened plain; do
  touch -m -d @1600000000 $A/$d/$f
  echo "== $f: mtime set through A"; watch $f 1600000000 plain; deleg
done
touch -m -d @1600000100 $A/$d/opened
echo "== opened: mtime set again through A, B reads before each stat"; watch opened 1600000100 fresh; deleg
rm -rf $A/$d
