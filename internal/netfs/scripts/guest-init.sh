#!/bin/bash
# PID 1 of the NFS/SMB test VM (the initramfs switch_roots into it; it is read
# from the 9p share, so changing it needs no image rebuild). The VM has no
# network card: everything is served and mounted over the guest's loopback.
#   kernel nfsd /srv/export -> /mnt/nfs3a /mnt/nfs3b (NFSv3), /mnt/nfs4a /mnt/nfs4b (NFSv4.2),
#                              each mount with nosharecache: its own superblock and caches;
#                              nfs4b a second NFSv4 client (127.0.0.2, its own node name)
#   samba       /srv/smb    -> /mnt/cifsa /mnt/cifsb (SMB 3.1.1, nosharesock: two connections)
# Then it runs the job scripts the host drops into /xfer/jobs (see vm-run.sh).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
ST=/xfer/state
mkdir -p $ST /xfer/jobs
exec >>$ST/guest.log 2>&1
t() { echo "[guest $(cut -d' ' -f1 /proc/uptime)s] $*"; }
fail() { t "FAILED: $*"; echo "$*" >$ST/failed; echo o >/proc/sysrq-trigger; sleep 60; }
t "init"  # (uptime appears once /proc is mounted)
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs -o mode=755 run /run
mount -t tmpfs tmp /tmp
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
echo 1 >/proc/sys/kernel/sysrq
hostname netfs-guest
echo "127.0.0.1 localhost netfs-guest" >/etc/hosts
ip link set lo up
mkdir -p /run/rpc_pipefs /var/lib/nfs/sm /var/lib/nfs/sm.bak /var/lib/nfs/v4recovery /var/log/samba /run/samba

# NFS server. Grace periods lowered to 10 s: during grace nfsd refuses locks
# and opens that need state (90 s by default).
modprobe lockd nlm_grace_period=10 || fail "modprobe lockd"
modprobe -a sunrpc nfsd nfs nfsv3 nfsv4 cifs || fail "modprobe nfsd nfs cifs"
t "modules loaded"
mount -t rpc_pipefs rpc_pipefs /run/rpc_pipefs
mount -t nfsd nfsd /proc/fs/nfsd || fail "mount nfsd"
echo 10 >/proc/fs/nfsd/nfsv4leasetime
echo 10 >/proc/fs/nfsd/nfsv4gracetime
rpcbind -w || fail rpcbind
rpc.statd --no-notify || fail rpc.statd
chmod 777 /srv/export /srv/smb
echo "/srv/export 127.0.0.0/8(rw,sync,no_subtree_check,no_root_squash,insecure)" >/etc/exports
exportfs -ra || fail exportfs
rpc.mountd || fail rpc.mountd
rpc.nfsd 8 || fail rpc.nfsd
NFSD_UP=$(cut -d' ' -f1 /proc/uptime)
t "nfsd up"

cat >/etc/samba/smb.conf <<'SMB'
[global]
  server role = standalone server
  workgroup = WORKGROUP
  interfaces = lo
  bind interfaces only = yes
  smb ports = 445
  disable netbios = yes
  passdb backend = tdbsam
  log file = /var/log/samba/log.%m
  max log size = 1000
[share]
  path = /srv/smb
  read only = no
  force user = root
  # No oplocks or leases: with them, opens of a file the other mount had
  # just used waited on lease breaks, and one lost break stalled an open for
  # minutes (kernel client under emulation; /proc/fs/cifs/Stats
  # "OplockBreaks: .. failed"). Attribute caching (actimeo=1) is unchanged.
  oplocks = no
  level2 oplocks = no
  smb2 leases = no
SMB
printf 'netfs\nnetfs\n' | smbpasswd -a -s root >/dev/null || fail smbpasswd
smbd -D || fail smbd
t "smbd started"

mkdir -p /mnt/nfs3a /mnt/nfs3b /mnt/nfs4a /mnt/nfs4b /mnt/cifsa /mnt/cifsb
pids=()
for m in nfs3a nfs3b; do
  (mount -t nfs -o vers=3,nosharecache 127.0.0.1:/srv/export /mnt/$m && t "mounted $m") & pids+=($!)
done
# The two NFSv4.2 mounts must be two NFSv4 clients, as two hosts are: one
# client holding a read delegation is not recalled for a change it makes
# itself through its other mount (see nfs4-deleg.sh), so its caches would
# never see the other mount's heartbeats. A client is named by the server
# address and the host name it mounts with (the client id string carries the
# UTS node name): nfs4b mounts 127.0.0.2 from a UTS namespace of its own
# named netfs-guest-b (the mount itself is in the one mount namespace).
(mount -t nfs -o vers=4.2,nosharecache 127.0.0.1:/srv/export /mnt/nfs4a && t "mounted nfs4a") & pids+=($!)
(unshare --uts sh -c 'hostname netfs-guest-b && exec mount -t nfs -o vers=4.2,nosharecache 127.0.0.2:/srv/export /mnt/nfs4b' &&
  t "mounted nfs4b (second client)") & pids+=($!)
i=0
until (exec 3<>/dev/tcp/127.0.0.1/445) 2>/dev/null; do sleep 0.2; i=$((i + 1)); [ $i -gt 300 ] && break; done
for m in cifsa cifsb; do
  (mount -t cifs -o username=root,password=netfs,vers=3.1.1,nosharesock //127.0.0.1/share /mnt/$m && t "mounted $m") & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a mount failed"; done
for m in nfs3a nfs3b nfs4a nfs4b cifsa cifsb; do mountpoint -q /mnt/$m || fail "not mounted: /mnt/$m"; done
grep -E ' (nfs|nfs4|cifs) ' /proc/mounts
n=$(ls /proc/fs/nfsd/clients | wc -l)
t "nfsd clients: $n"
[ "$n" -ge 2 ] || fail "the NFSv4.2 mounts are one client to nfsd, not two"
# Wait out the NFS grace period so the first lock does not stall.
while awk -v s="$NFSD_UP" '{exit !($1 < s + 11)}' /proc/uptime; do sleep 0.5; done
t "ready"
echo ready >$ST/ready

# Job loop: jobs/<id>.sh -> jobs/<id>.out (stdout+stderr) and jobs/<id>.rc.
# Jobs run side by side, each in its own session; jobs/<id>.kill ends one.
while :; do
  for j in /xfer/jobs/*.sh; do
    [ -e "$j" ] || continue
    id=${j%.sh}
    [ -e "$id.started" ] && continue
    touch "$id.started"
    setsid bash -c 'cd /tmp && bash "$1.sh" >"$1.out" 2>&1; echo $? >"$1.rc.tmp"; mv "$1.rc.tmp" "$1.rc"' job "$id" &
    echo $! >"$id.pid"
  done
  for k in /xfer/jobs/*.kill; do
    [ -e "$k" ] || continue
    id=${k%.kill}
    [ -s "$id.pid" ] && kill -9 -- -"$(cat "$id.pid")" 2>/dev/null
    rm -f "$k"
  done
  [ -e /xfer/jobs/SHUTDOWN ] && break
  sleep 0.2
done
t "poweroff"
sync
echo o >/proc/sysrq-trigger
sleep 60
