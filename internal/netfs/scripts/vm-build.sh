#!/usr/bin/env bash
# Builds, once, what the NFS/SMB test VM boots, under $NETFS_CACHE:
#   kernel/    Debian's own 6.1 kernel package, unpacked (apt-get download +
#              dpkg-deb -x: nothing is installed on the host)
#   vmlinux    its xz payload unpacked to an ELF that qemu boots through the
#              PVH entry (saves the in-guest decompression under emulation)
#   root.img   ext4 image of an mmdebstrap'd bookworm (nfs-kernel-server,
#              samba, cifs-utils, ...) plus the kernel's modules; the VM opens
#              it with snapshot=on, so it is never modified
#   initrd.gz  busybox-static and the modules to reach the disk and 9p share
# Each step is skipped when its output exists, so a complete cache costs no
# network and no time. IMAGE_VERSION below: bump it to rebuild everything.
source "$(dirname "$0")/common.sh"
IMAGE_VERSION=1
t0=$SECONDS
need_pkgs qemu-system-x86 busybox-static kmod cpio mmdebstrap e2fsprogs xz-utils
C=$NETFS_CACHE
if [ "$(cat "$C/version" 2>/dev/null)" != "$IMAGE_VERSION" ]; then
  rm -rf "$C"
  mkdir -p "$C"
  echo "$IMAGE_VERSION" >"$C/version"
fi
if [ -s "$C/vmlinux" ] && [ -s "$C/root.img" ] && [ -s "$C/initrd.gz" ]; then
  log "image cache $C is complete"
  exit 0
fi
log "building the VM image into $C (about 5 minutes)"

# ---- kernel ------------------------------------------------------------------
if [ ! -s "$C/kernel/kver" ]; then
  apt_update_once
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  [ -n "$pkg" ] || { log "cannot resolve linux-image-amd64"; exit 1; }
  log "kernel package $pkg"
  rm -rf "$C/dl" "$C/kernel.tmp"
  mkdir -p "$C/dl" "$C/kernel.tmp"
  chmod 777 "$C/dl"
  (cd "$C/dl" && with_retry 2 timeout 300 apt-get download -qq "$pkg" >/dev/null 2>&1)
  dpkg-deb -x "$C"/dl/"$pkg"_*.deb "$C/kernel.tmp"
  kv=$(ls "$C/kernel.tmp/lib/modules")
  depmod -b "$C/kernel.tmp" "$kv"
  echo "$kv" >"$C/kernel.tmp/kver"
  rm -rf "$C/dl" "$C/kernel"
  mv "$C/kernel.tmp" "$C/kernel"
fi
KVER=$(cat "$C/kernel/kver")
MODS="$C/kernel/lib/modules/$KVER"
if [ ! -s "$C/vmlinux" ]; then
  vmlinuz="$C/kernel/boot/vmlinuz-$KVER"
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -1 | cut -d: -f1 || true)
  rm -f "$C/vmlinux.tmp"
  # xz complains about the bytes after the stream; the ELF check below decides
  [ -n "$off" ] && { tail -c +"$((off + 1))" "$vmlinuz" | xz -dc >"$C/vmlinux.tmp" 2>/dev/null || true; }
  if [ "$(head -c 4 "$C/vmlinux.tmp" 2>/dev/null | od -An -tx1 | tr -d ' \n')" != 7f454c46 ]; then
    log "no ELF payload in $vmlinuz: booting the compressed kernel (about 15 s slower)"
    cp "$vmlinuz" "$C/vmlinux.tmp"
  fi
  mv "$C/vmlinux.tmp" "$C/vmlinux"
fi

# ---- root filesystem image ---------------------------------------------------
if [ ! -s "$C/root.img" ]; then
  # the guest's packages come from the host's own apt sources
  srcs=()
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [ -s "$f" ] && grep -q "$SUITE" "$f" && srcs+=("$f")
  done
  [ ${#srcs[@]} -gt 0 ] || { log "no apt sources for $SUITE on this host"; exit 1; }
  log "mmdebstrap $SUITE (sources: ${srcs[*]})"
  R="$C/rootfs.tmp"
  _debstrap() {
    rm -rf "$R"
    timeout 900 mmdebstrap --quiet --variant=minbase \
      --include=nfs-kernel-server,nfs-common,rpcbind,samba,cifs-utils,kmod,procps,iproute2,util-linux \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      "$SUITE" "$R" "${srcs[@]}" >"$C/mmdebstrap.log" 2>&1 \
      || { tail -20 "$C/mmdebstrap.log" >&2; return 1; }
  }
  with_retry 2 _debstrap
  dst="$R/lib/modules/$KVER"
  mkdir -p "$dst/kernel/drivers"
  cp -a "$MODS"/modules.builtin* "$MODS"/modules.order "$dst/"
  for d in fs net crypto lib arch; do cp -a "$MODS/kernel/$d" "$dst/kernel/"; done
  for d in virtio block char; do cp -a "$MODS/kernel/drivers/$d" "$dst/kernel/drivers/"; done
  depmod -b "$R" "$KVER"
  mkdir -p "$R/xfer" "$R/srv/export" "$R/srv/smb"
  log "mkfs.ext4 root.img"
  rm -f "$C/root.img.tmp"
  truncate -s 2G "$C/root.img.tmp"
  mkfs.ext4 -q -F -L netfsroot -d "$R" "$C/root.img.tmp"
  mv "$C/root.img.tmp" "$C/root.img"
  rm -rf "$R"
fi

# ---- initramfs ---------------------------------------------------------------
if [ ! -s "$C/initrd.gz" ]; then
  ird="$C/initrd.d"
  rm -rf "$ird"
  mkdir -p "$ird"/{bin,dev,proc,sys,newroot,mods}
  cp /bin/busybox "$ird/bin/"
  for m in virtio_pci virtio_blk crc32c_generic ext4 9pnet_virtio 9p; do
    modprobe -d "$C/kernel" -S "$KVER" --show-depends "$m" | awk '$1=="insmod"{print $2}'
  done | awk '!seen[$0]++' | while read -r ko; do
    cp "$ko" "$ird/mods/"
    basename "$ko" >>"$ird/mods/order"
  done
  cat >"$ird/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m 2>/dev/null; done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
mount -t ext4 /dev/vda /newroot || { echo "NETFS: cannot mount root"; poweroff -f; }
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 xfer /newroot/xfer || { echo "NETFS: no 9p share"; poweroff -f; }
umount /sys /proc; mount --move /dev /newroot/dev
exec switch_root /newroot /bin/bash /xfer/guest-init.sh
INIT
  chmod +x "$ird/init"
  (cd "$ird" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$C/initrd.gz.tmp")
  mv "$C/initrd.gz.tmp" "$C/initrd.gz"
  rm -rf "$ird"
fi
log "VM image built in $((SECONDS - t0)) s (kernel $KVER, cache $(du -sh "$C" | cut -f1))"
