// Package fsprobe measures what a directory's filesystem really does and
// recommends the protocol options that keep a cryolock safe there.
//
// # What it guarantees
//
// [Probe] works only inside a scratch subdirectory of the probed directory,
// ".cryolock-probe-<random>", which it creates and removes before it
// returns — also when its context is cancelled or its time budget
// (Options.Timeout, default 5 s) runs out. It never creates the probed
// directory and touches nothing else in it. Every step acts on names in a
// handle on the scratch directory kept open from its creation (on Unix also
// the O_EXCL, link, rename and flock checks), so that another user who
// renames or replaces the scratch directory (in a directory everyone may
// write without the sticky bit) redirects nothing; such a directory is then
// left where it is, with a warning naming it, never removed. [Peer] works only in
// ".cryolock-probe-peer", removes its own files in every case and the
// directory once both parties are gone.
//
// Every item of a [Report] is measured on the directory, except the cache
// times read from the mount options or known defaults (sshfs's 20 s, FUSE's
// 1 s, NFS's 60 s acregmax and acdirmax; rclone's from the command line of
// the `rclone mount` process if root or the mount's owner runs it, else
// its 5-minute --dir-cache-time), which are labelled with their source
// (Filesystem.AttrCacheSource, DirCacheSource). The recommendation is
// derived by [Recommend] from those numbers alone; its reasons and
// warnings say which number each choice follows.
//
// # What it measures
//
//   - the filesystem: statfs magic and name, the /proc/self/mountinfo entry
//     of the mount (point, root, source, options), whether other clients
//     reach it through caches of their own (network and FUSE filesystems),
//     and the cache times its options declare (NFS actimeo, acregmax,
//     acdirmax, noac, nocto, lookupcache; CIFS cache= and actimeo; rclone's
//     --dir-cache-time and --attr-timeout from its process's command line or
//     RCLONE_* environment, believed only of a process whose real uid is
//     root's or the mount's user_id, else rclone's defaults; sshfs and FUSE defaults, since their options are
//     invisible in mountinfo), each with the option that shortens it; and
//     whether an rclone mount checks reads against the remote's hashes
//     (Filesystem.ReadChecksum: a warning for the data, not the lock);
//   - the protocol's primitives (mkdir, list, create+write, read, stat, set
//     an explicit mtime, remove): whether each works, and its median and
//     maximum time over Options.Samples tries; for comparison O_EXCL, hard
//     links, rename over an existing file, and flock;
//   - the mtime granularity (an explicit mtime with a distinctive
//     sub-second part is set and read back) and whether it reads back
//     exactly;
//   - the clock skew: the mtime a freshly written file gets versus the local
//     clock before and after the write, over several samples;
//   - listing coherence from this client: a created file is listed at once,
//     a removed one is gone at once (and how long it took if not);
//   - with a peer ([Peer], `cryolock probe --peer` on two clients at once):
//     round trips of a create, a removal and an mtime change through both
//     clients, the mtime seen both by plain stat and by read-then-stat (the
//     lock reads a file before breaking it, which revalidates attributes on
//     close-to-open filesystems and on sshfs), and whether a flock held
//     through one client excludes the other; and what the lock relies on,
//     the create-then-list round trip: a create on one side is seen by a
//     listing the other side makes right after a create of its own (and
//     whether that own create refreshes its listing at all). The side that
//     finishes second writes a joint [Verdict], which both sides report.
//
// # JSON
//
// A [Report] marshals to one object; durations are Go duration strings
// ("1.5ms", "2m5s", "-3ms"), and the main ones also come as numbers of
// seconds in a key ending in "_seconds". Keys (all present unless marked
// optional):
//
//	version                    1
//	dir, host                  the absolute path probed; the probing machine
//	started, elapsed           RFC 3339 time; duration
//	filesystem {
//	  type                     "ext4", "tmpfs", "nfs4", "fuse.sshfs", ...
//	  statfs_magic             "0xef53" (optional)
//	  statfs_name              "ext2/3/4" (optional)
//	  mount {                  (optional)
//	    mount_point, root, fstype, source
//	    options, super_options [strings]
//	  }
//	  remote                   bool
//	  attr_cache, dir_cache    declared cache times (duration)
//	  attr_cache_source, dir_cache_source   where they come from (optional)
//	}
//	primitives {
//	  mkdir, list, create_write, read, stat, set_mtime, remove,
//	  o_excl, hard_link, rename_over, flock: {
//	    works                  bool
//	    error, note            string (optional)
//	    timing {samples, median, max}   (optional; the first seven only)
//	  }
//	}
//	mtime_granularity          duration ("1ns", "1s"; "0s": not measured)
//	mtime_granularity_seconds  number
//	mtime_set_exact            bool
//	clock_skew {samples, median, max_abs, max_abs_seconds, uncertainty}
//	                           mtime minus local time; positive: the
//	                           server's clock is ahead
//	listing {samples, create_listed_at_once, remove_gone_at_once,
//	         lag {samples, median, max}}
//	peer {                     (optional: two-party mode only)
//	  peer, rounds
//	  create_round_trip, remove_round_trip, mtime_round_trip,
//	  mtime_fresh_round_trip, one_way_by_clocks: {samples, median, max}
//	  listing_lag, listing_lag_seconds, mtime_lag, mtime_fresh_lag
//	  flock_excludes_peer      bool (optional)
//	  create_then_list_round_trip, create_then_list_poll: {samples, median, max}
//	  create_then_list_lag, create_then_list_lag_seconds
//	                           what the settle must cover (rule C4)
//	  own_create_refreshes     bool (optional): an own create refreshes
//	                           the listing; absent: too little lag to tell
//	  joint_verdict {          (optional) the same on both sides
//	    sides, hosts, written_by
//	    peer {...}             both sides' measurements joined
//	    recommendation {...}   (optional) what Probe reports on both sides
//	  }
//	}
//	recommendation {
//	  usable                   bool: every primitive the lock needs works
//	  lease, lease_seconds     protocol.WithLease
//	  no_lease                 bool (optional): protocol.WithoutLease
//	  settle, settle_seconds   protocol.WithSettle
//	  min_backoff, max_backoff protocol.WithBackoff
//	  stale_rule               "observed" (protocol.WithStaleRule)
//	  heartbeat_min, heartbeat_max   0.4 and 0.5 × lease
//	  reasons [{setting, value, why}]   one per setting
//	  warnings [strings]
//	}
//
// # Using a report
//
// [WithReport] turns a report into one protocol option;
// [Recommendation.Options] gives the same as a list of options. A report
// whose recommendation is not Usable makes protocol.New fail with an error
// wrapping protocol.ErrConfig that gives the probe's warnings.
// [Cached] probes a lock directory once and keeps the report in its .meta
// subdirectory (which the lock protocol ignores), written atomically (a
// temporary file renamed over the old one, relative to a handle on .meta
// opened without following links) where the probe found that rename works.
// It never follows a symbolic link planted at the lock directory, .meta or
// the cache file, never blocks on a named pipe there, and reads at most
// [MaxCacheSize] bytes: anything it did not write is reported, untouched.
package fsprobe
