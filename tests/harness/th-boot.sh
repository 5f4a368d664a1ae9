#!/bin/bash
# th-boot.sh — boot script of one rollwave test host (see DESIGN.md, "Real
# components in tests"). testhost.sh runs it as
#
#   ip netns exec rwtN-NAME unshare --pid --fork --mount --uts --mount-proc \
#       --propagation private th-boot.sh NAME GATEWAY
#
# (GATEWAY: the machine's address on the run's bridge, 10.231.N.1, named
# coordinator.rollwave.test in the host's /etc/hosts)
#
# under script(1), so that its stdin is a pseudo-terminal that becomes the
# host's /dev/console (script records it to the host's console log).
#
# so it starts as PID 1 of a fresh PID namespace, in a private copy of the
# machine's mount namespace. It must never change anything the machine or the
# other hosts can see: it only mounts (private) tmpfs and writes into them,
# then execs systemd with a target that pulls in nothing but D-Bus.
#
# Environment: TH_SRV_SIZE (size of the /srv tmpfs, default 256m),
#              TH_ETC_SIZE (size of the /etc/rollwave tmpfs, default 16m).
set -euo pipefail

name=${1:?usage: th-boot.sh NAME GATEWAY}
gateway=${2:?usage: th-boot.sh NAME GATEWAY}
target=rwt-host.target

die() { echo "th-boot[$name]: $*" >&2; exit 1; }

[ "$$" = 1 ] || die "must run as PID 1 of a new PID namespace (pid $$)"
# Belt and braces: refuse to go on if our mounts could leak into the machine's
# namespace. unshare --propagation private makes every mount private.
if grep -qE '^[0-9]+ [0-9]+ [^ ]+ / / [^ ]+ shared:' /proc/self/mountinfo; then
	die "/ is a shared mount in this namespace; refusing to mount over it"
fi

# systemd as PID 1 (re)opens /dev/console for its log and status output and
# ignores it unless it is a terminal: give it our pseudo-terminal instead of
# the machine's console (or /dev/null when started without one).
console=/dev/null
if tty -s; then
	console=$(tty)
fi
mount --bind "$console" /dev/console

# Private state: /run, /tmp and /var/tmp hide the machine's; /srv and
# /etc/rollwave give every host its own release roots and agent config.
mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m tmpfs /run
mount -t tmpfs -o mode=1777,nosuid,nodev,size=256m tmpfs /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev,size=256m tmpfs /var/tmp
mount -t tmpfs -o "mode=0755,size=${TH_SRV_SIZE:-256m}" tmpfs /srv
mount -t tmpfs -o "mode=0755,size=${TH_ETC_SIZE:-16m}" tmpfs /etc/rollwave

# Its own name (a private UTS namespace) and /etc/hosts: itself, and the
# machine on the bridge as the coordinator's name.
hostname "$name"
{
	grep -v -w -e "$name" -e coordinator.rollwave.test /etc/hosts
	echo "127.0.1.1 $name"
	echo "$gateway coordinator.rollwave.test"
} >/run/th-etc-hosts
mount --bind /run/th-etc-hosts /etc/hosts
echo "$name" >/run/th-etc-hostname
mount --bind /run/th-etc-hostname /etc/hostname

# Mask every unit that would act on the whole machine (shared disk, kernel
# settings, devices, consoles, clocks, network daemons, periodic jobs). Units
# in /run/systemd/system take precedence over /etc and /lib.
unitdir=/run/systemd/system
mkdir -p "$unitdir"
masked=(
	# tmpfiles would clean the machine's /tmp and /var/tmp (seen here)
	systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service
	systemd-tmpfiles-clean.service systemd-tmpfiles-clean.timer
	# kernel and boot-time machine state
	systemd-sysctl.service systemd-modules-load.service kmod-static-nodes.service
	systemd-remount-fs.service systemd-binfmt.service
	proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount
	systemd-sysusers.service systemd-journal-flush.service
	systemd-random-seed.service systemd-machine-id-commit.service
	systemd-firstboot.service ldconfig.service systemd-hwdb-update.service
	systemd-journal-catalog-update.service systemd-update-done.service
	systemd-update-utmp.service systemd-update-utmp-runlevel.service
	systemd-pstore.service systemd-repart.service systemd-boot-update.service
	systemd-pcrphase.service systemd-pcrphase-sysinit.service
	systemd-pcrphase-initrd.service systemd-fsck-root.service
	systemd-quotacheck.service quotaon.service systemd-growfs-root.service
	systemd-backlight@.service systemd-rfkill.service systemd-rfkill.socket
	systemd-journald-audit.socket systemd-bless-boot.service
	systemd-hibernate-resume@.service systemd-fsck@.service
	# API file systems: harmless in a private mount namespace, but not needed
	dev-hugepages.mount dev-mqueue.mount sys-kernel-debug.mount
	sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount
	# udev and its sockets: one udev per machine
	systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket
	systemd-udev-trigger.service systemd-udev-settle.service
	# consoles, terminals, logins
	getty.target getty@.service serial-getty@.service console-getty.service
	container-getty@.service autovt@.service getty-static.service
	systemd-vconsole-setup.service keyboard-setup.service console-setup.service
	setvtrgb.service systemd-ask-password-console.path
	systemd-ask-password-console.service systemd-ask-password-wall.path
	systemd-ask-password-wall.service systemd-logind.service
	emergency.service rescue.service debug-shell.service
	plymouth-start.service plymouth-quit.service plymouth-quit-wait.service
	plymouth-read-write.service
	# network, name resolution, clock: the host's netns is set up from outside
	systemd-networkd.service systemd-networkd.socket
	systemd-networkd-wait-online.service systemd-resolved.service
	systemd-timesyncd.service systemd-timedated.service systemd-hostnamed.service
	systemd-localed.service networking.service ifupdown-pre.service
	# periodic jobs and daemons installed on the machine
	timers.target apt-daily.timer apt-daily.service apt-daily-upgrade.timer
	apt-daily-upgrade.service man-db.timer man-db.service fstrim.timer
	fstrim.service e2scrub_all.timer e2scrub_all.service e2scrub_reap.service
	logrotate.timer logrotate.service dpkg-db-backup.timer dpkg-db-backup.service
	cron.service anacron.service anacron.timer ssh.service ssh.socket
	sshd.service rsyslog.service syslog.socket postgresql.service
	postgresql@.service prometheus.service prometheus-node-exporter.service
	haproxy.service nginx.service
	# D-Bus-activatable services that would change the machine (packages,
	# hostname, locale, clock) or that a test host does not need
	packagekit.service polkit.service
	dbus-org.freedesktop.hostname1.service dbus-org.freedesktop.locale1.service
	dbus-org.freedesktop.login1.service dbus-org.freedesktop.network1.service
	dbus-org.freedesktop.timedate1.service dbus-org.freedesktop.timesync1.service
)
# One process for all links: forks cost ~25 ms each on a loaded test VM.
perl -e 'my $d = shift; for (@ARGV) { unlink "$d/$_"; symlink("/dev/null", "$d/$_")
	or die "th-boot: cannot mask $_: $!\n" }' "$unitdir" "${masked[@]}"

# The only target this host boots into: D-Bus (socket-activated) and,
# through sysinit.target, journald.
cat >"$unitdir/$target" <<EOF
[Unit]
Description=rollwave test host $name
Requires=dbus.socket
After=dbus.socket
AllowIsolate=yes
EOF

# Run systemd in container mode on every machine: the verified boots ran on
# machines with /.dockerenv, where systemd detects "docker" and then leaves
# kernel-wide settings alone and skips units with ConditionVirtualization=
# !container. Saying so explicitly keeps that true where /.dockerenv is absent.
export container=rollwave-test

echo "th-boot[$name]: exec systemd"
exec /usr/lib/systemd/systemd --system --unit="$target" \
	--log-target=console --log-level=info --show-status=yes
