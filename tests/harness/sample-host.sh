# sample-host.sh — set a test host up to run the sample app under
# rollwave-agent (bash library; source it after testhost.sh).
#
#   sample_host_setup HOST PUBKEY [PUBKEY...]
#       /etc/rollwave/agent.conf trusting the given release keys (state in
#       /srv/agent-state, private to the host), the sample.service unit
#       (restarted by systemd on failure) and apps/sample.conf with the
#       defaults below; returns non-zero if any step failed.
#   sample_app_conf HOST [Key=Value...]
#       rewrites apps/sample.conf, each Key=Value replacing the default:
#       KeepReleases=3 SharedDirs= MinHealthy=2s Deadline=12s Interval=250ms
#       ProbeTimeout=5s HookTimeout=90s
sample_app_conf() {
	local host=$1 kv
	shift
	local -A v=([KeepReleases]=3 [SharedDirs]= [MinHealthy]=2s [Deadline]=12s
		[Interval]=250ms [ProbeTimeout]=5s [HookTimeout]=90s)
	for kv in "$@"; do
		v[${kv%%=*}]=${kv#*=}
	done
	th_write "$host" /etc/rollwave/apps/sample.conf <<CONF
[App]
Name=sample
Root=/srv/sample
Units=sample.service
KeepReleases=${v[KeepReleases]}
SharedDirs=${v[SharedDirs]}

[Health]
HttpGet=http://127.0.0.1:8080/health
MinHealthy=${v[MinHealthy]}
Deadline=${v[Deadline]}
Interval=${v[Interval]}
ProbeTimeout=${v[ProbeTimeout]}

[Hooks]
Timeout=${v[HookTimeout]}
CONF
}

sample_host_setup() {
	local host=$1 key keys=
	shift
	th_exec "$host" mkdir -p /etc/rollwave/apps /etc/rollwave/keys || return 1
	for key in "$@"; do
		th_put "$host" "$key" "/etc/rollwave/keys/${key##*/}" || return 1
		keys+="${keys:+ }/etc/rollwave/keys/${key##*/}"
	done
	th_write "$host" /etc/rollwave/agent.conf <<CONF || return 1
[Agent]
StateDirectory=/srv/agent-state
AppsDirectory=/etc/rollwave/apps
TrustedKeys=$keys
CONF
	th_write "$host" /run/systemd/system/sample.service <<'UNIT' || return 1
[Unit]
Description=rollwave sample app
[Service]
ExecStart=/srv/sample/current/bin/rollwave-sample --port 8080 --release-dir /srv/sample/current
Restart=on-failure
RestartSec=500ms
UNIT
	th_systemctl "$host" daemon-reload || return 1
	sample_app_conf "$host"
}
