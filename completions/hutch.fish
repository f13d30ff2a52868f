# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_hutch_global_optspecs
    string join \n help version args= argv0= level-prefix profile= explain unshare-all share-net unshare-user unshare-user-try unshare-ipc unshare-pid share-pid unshare-net unshare-uts unshare-cgroup unshare-cgroup-try userns= userns2= disable-userns assert-userns-disabled pidns= uid= gid= hostname= net= net-allow-host-loopback publish= allow-host= allow-net= chdir= clearenv setenv= unsetenv= lock-file= sync-fd= bind= bind-try= bind-create= dev-bind= dev-bind-try= ro-bind= ro-bind-try= bind-fd= ro-bind-fd= remount-ro= overlay-src= overlay= tmp-overlay= ro-overlay= exec-label= file-label= proc= dev= tmpfs= mqueue= dir= file= bind-data= ro-bind-data= symlink= seccomp= add-seccomp-fd= block-fd= userns-block-fd= info-fd= json-status-fd= new-session die-with-parent as-pid-1 forward-signals cap-add= cap-drop= perms= size= tmpfs-size= chmod= landlock= landlock-read= landlock-write= landlock-exec= landlock-connect= landlock-bind= landlock-scope= landlock-strict landlock-only landlock-only-fallback host-sockets= allow-socket= landlock-only-metadata= seccomp-policy= seccomp-action= report report-fd= keep-fd= inherit-fds memory= memory-swap= cpus= pids= io-weight= rlimit= timeout= stats stats-fd= cgroup=
end

function __fish_hutch_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_hutch_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_hutch_using_subcommand
    set -l cmd (__fish_hutch_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

# hutch's own options, unless the command line is `hutch oci ...` (hutch-oci(1)).
function __fish_hutch_not_oci
    set -l cmd (commandline -opc)
    test "$cmd[2]" != oci
end

function __fish_hutch_first_arg
    test (count (commandline -opc)) -eq 1
end

complete -c hutch -n "__fish_hutch_not_oci" -l args -d 'Parse NUL-separated args from FD' -r
complete -c hutch -n "__fish_hutch_not_oci" -l argv0 -d 'Set argv[0] to the value VALUE before running the program' -r
complete -c hutch -n "__fish_hutch_not_oci" -l profile -d 'Insert the options a TOML profile describes at this point (a NAME, looked up in ~/.config/hutch/profiles, /etc/hutch/profiles and the built-ins build, desktop, gpu, home-ro, net; or a PATH); see PROFILES in hutch(1)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l userns -d 'Use this user namespace (cannot combine with --unshare-user)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l userns2 -d 'After setup switch to this user namespace, only useful with --userns' -r
complete -c hutch -n "__fish_hutch_not_oci" -l pidns -d 'Use this pid namespace (as parent namespace if using --unshare-pid)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l uid -d 'Custom uid in the sandbox (requires --unshare-user or --userns)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l gid -d 'Custom gid in the sandbox (requires --unshare-user or --userns)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l hostname -d 'Custom hostname in the sandbox (requires --unshare-uts)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l net -d 'host (the host\'s network, as --share-net), none (loopback only, as --unshare-net) or user (a new network connected through pasta or slirp4netns); the last of --net, --unshare-net, --share-net and --unshare-all wins' -r
complete -c hutch -n "__fish_hutch_not_oci" -l publish -d 'With --net user: forward [HOSTADDR:]HOSTPORT:SANDBOXPORT[/tcp|/udp] from the host (every address without HOSTADDR) into the sandbox (repeatable)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l allow-host -d 'A network namespace of its own that reaches only allowed names: NAME[:PORT[,PORT...]] (ports 80 and 443 without), *.DOMAIN for every name below DOMAIN, over TCP and UDP; other names do not resolve, other addresses get EACCES (repeatable; see NETWORK BY NAME in docs/network.md)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l allow-net -d 'As --allow-host, for addresses: ADDR[/LEN][:PORT[,PORT...]] (ports 80 and 443 without; IPv6 with ports in brackets, [2001:db8::/32]:443) (repeatable)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l chdir -d 'Change directory to DIR' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l setenv -d 'Set an environment variable' -r
complete -c hutch -n "__fish_hutch_not_oci" -l unsetenv -d 'Unset an environment variable' -r
complete -c hutch -n "__fish_hutch_not_oci" -l lock-file -d 'Take a lock on DEST while sandbox is running' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l sync-fd -d 'Keep this fd open while sandbox is running' -r
complete -c hutch -n "__fish_hutch_not_oci" -l bind -d 'Bind mount the host path SRC on DEST' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l bind-try -d 'Equal to --bind but ignores non-existent SRC' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l bind-create -d 'Equal to --bind, but first creates SRC on the host (a directory, mode 0700) if it does not exist' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l dev-bind -d 'Bind mount the host path SRC on DEST, allowing device access' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l dev-bind-try -d 'Equal to --dev-bind but ignores non-existent SRC' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l ro-bind -d 'Bind mount the host path SRC readonly on DEST' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l ro-bind-try -d 'Equal to --ro-bind but ignores non-existent SRC' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l bind-fd -d 'Bind open directory or path fd on DEST' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l ro-bind-fd -d 'Bind open directory or path fd read-only on DEST' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l remount-ro -d 'Remount DEST as readonly; does not recursively remount' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l overlay-src -d 'Read files from SRC in the following overlay' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l overlay -d 'Mount overlayfs on DEST, with RWSRC as the host path for writes and WORKDIR an empty directory on the same filesystem as RWSRC' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l tmp-overlay -d 'Mount overlayfs on DEST, with writes going to an invisible tmpfs' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l ro-overlay -d 'Mount overlayfs read-only on DEST' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l exec-label -d 'Exec label for the sandbox' -r
complete -c hutch -n "__fish_hutch_not_oci" -l file-label -d 'File label for temporary sandbox content' -r
complete -c hutch -n "__fish_hutch_not_oci" -l proc -d 'Mount new procfs on DEST' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l dev -d 'Mount new dev on DEST' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l tmpfs -d 'Mount new tmpfs on DEST' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l mqueue -d 'Mount new mqueue on DEST' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l dir -d 'Create dir at DEST' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l file -d 'Copy from FD to destination DEST' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l bind-data -d 'Copy from FD to file which is bind-mounted on DEST' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l ro-bind-data -d 'Copy from FD to file which is readonly bind-mounted on DEST' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l symlink -d 'Create symlink at DEST with target SRC' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l seccomp -d 'Load and use seccomp rules from FD (not repeatable)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l add-seccomp-fd -d 'Load and use seccomp rules from FD (repeatable)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l block-fd -d 'Block on FD until some data to read is available' -r
complete -c hutch -n "__fish_hutch_not_oci" -l userns-block-fd -d 'Block on FD until the user namespace is ready' -r
complete -c hutch -n "__fish_hutch_not_oci" -l info-fd -d 'Write information about the running container to FD' -r
complete -c hutch -n "__fish_hutch_not_oci" -l json-status-fd -d 'Write container status to FD as multiple JSON documents' -r
complete -c hutch -n "__fish_hutch_not_oci" -l cap-add -d 'Add cap CAP when running as privileged user' -r
complete -c hutch -n "__fish_hutch_not_oci" -l cap-drop -d 'Drop cap CAP when running as privileged user' -r
complete -c hutch -n "__fish_hutch_not_oci" -l perms -d 'Set permissions of next argument (--bind-data, --file, etc.)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l size -d 'Set size of next argument (only for --tmpfs; as hutch also with a k/M/G suffix)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l tmpfs-size -d 'The size bound of every tmpfs made without --size (--tmpfs, --dev and its /dev/shm, --tmp-overlay\'s writes, --file copies), or unlimited (default as hutch: a quarter of RAM, at most 4G; as bwrap: unlimited, the kernel\'s half of RAM)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l chmod -d 'Change permissions of PATH (must already exist)' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l landlock -d 'Landlock: auto (rules from the mounts or --landlock-read/-write/-exec) or off (default: auto as hutch, off as bwrap)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l landlock-read -d 'Landlock: allow reading beneath PATH (as seen inside); explicit path rules replace the ones derived from the mounts' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l landlock-write -d 'Landlock: allow reading and writing (not executing) beneath PATH' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l landlock-exec -d 'Landlock: allow reading and executing beneath PATH' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l landlock-connect -d 'Landlock: allow TCP connect to PORT; once given, connecting to any other port is denied' -r
complete -c hutch -n "__fish_hutch_not_oci" -l landlock-bind -d 'Landlock: allow TCP bind to PORT; once given, binding any other port is denied' -r
complete -c hutch -n "__fish_hutch_not_oci" -l landlock-scope -d 'Landlock: on or off: deny signals and abstract unix sockets leaving the sandbox (default: on as hutch)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l host-sockets -d 'block or allow: whether COMMAND can connect to the host\'s unix sockets that the mounts show (session bus, docker.sock, ssh-agent...); block masks each one (default: block as hutch, allow as bwrap)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l allow-socket -d 'With --host-sockets block: leave the host socket at PATH (as seen inside), or every one beneath the directory PATH, reachable (repeatable)' -r -F
complete -c hutch -n "__fish_hutch_not_oci" -l landlock-only-metadata -d 'In Landlock-only mode, chmod, chown, utimes and setxattr calls: supervise (default: allowed only beneath a rule that grants writing, checked and done by hutch for the command) or allow (anywhere the file\'s owner may)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l seccomp-policy -d 'default, none, or a seccompiler JSON file (default: default as hutch, none as bwrap)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l seccomp-action -d 'errno, kill or log: what the default seccomp policy does to a denied call (default: errno)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l report-fd -d 'Write the protections in force as JSON to FD before running COMMAND' -r
complete -c hutch -n "__fish_hutch_not_oci" -l keep-fd -d 'Let COMMAND inherit FD; all other descriptors but 0, 1 and 2 are closed (repeatable; default as hutch: close all others, as bwrap: inherit all)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l memory -d 'Limit the sandbox\'s memory (cgroup v2 memory.max; k/M/G suffixes)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l memory-swap -d 'Limit the swap the sandbox may use on top of --memory (memory.swap.max)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l cpus -d 'Limit the sandbox to CPUS CPUs\' worth of time, e.g. 1.5 (cpu.max)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l pids -d 'Limit the number of processes and threads in the sandbox (pids.max)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l io-weight -d 'Relative block I/O weight of the sandbox, 1-10000 (io.weight)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l rlimit -d 'Set NAME=SOFT[:HARD] for COMMAND; NAME is as, core, cpu, data, fsize, memlock, nofile, nproc or stack (repeatable)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l timeout -d 'Kill the whole sandbox after DURATION (seconds, or a ms/s/m/h suffix) and exit 124' -r
complete -c hutch -n "__fish_hutch_not_oci" -l stats-fd -d 'Write the --stats JSON to FD' -r
complete -c hutch -n "__fish_hutch_not_oci" -l cgroup -d 'required, best-effort or off: must the cgroup limits apply (default: best-effort with a cgroup limit, else off)' -r
complete -c hutch -n "__fish_hutch_not_oci" -l help -d 'Print this help'
complete -c hutch -n "__fish_hutch_not_oci" -l version -d 'Print version'
complete -c hutch -n "__fish_hutch_not_oci" -l level-prefix -d 'Prepend e.g. <3> to diagnostic messages'
complete -c hutch -n "__fish_hutch_not_oci" -l explain -d 'Print the resolved plan (namespaces, ids, mounts in order, environment, security, limits, network) to stdout and exit without running anything'
complete -c hutch -n "__fish_hutch_not_oci" -l unshare-all -d 'Unshare every namespace we support by default'
complete -c hutch -n "__fish_hutch_not_oci" -l share-net -d 'Retain the network namespace (can only combine with --unshare-all)'
complete -c hutch -n "__fish_hutch_not_oci" -l unshare-user -d 'Create new user namespace (may be automatically implied if not setuid)'
complete -c hutch -n "__fish_hutch_not_oci" -l unshare-user-try -d 'Create new user namespace if possible else continue by skipping it'
complete -c hutch -n "__fish_hutch_not_oci" -l unshare-ipc -d 'Create new ipc namespace'
complete -c hutch -n "__fish_hutch_not_oci" -l unshare-pid -d 'Create new pid namespace'
complete -c hutch -n "__fish_hutch_not_oci" -l share-pid -d 'Keep the host\'s pid namespace (default as bwrap; as hutch the sandbox gets a new one, so that the command cannot reach host processes by pid; the last of --share-pid, --unshare-pid and --unshare-all wins)'
complete -c hutch -n "__fish_hutch_not_oci" -l unshare-net -d 'Create new network namespace'
complete -c hutch -n "__fish_hutch_not_oci" -l unshare-uts -d 'Create new uts namespace'
complete -c hutch -n "__fish_hutch_not_oci" -l unshare-cgroup -d 'Create new cgroup namespace'
complete -c hutch -n "__fish_hutch_not_oci" -l unshare-cgroup-try -d 'Create new cgroup namespace if possible else continue by skipping it'
complete -c hutch -n "__fish_hutch_not_oci" -l disable-userns -d 'Disable further use of user namespaces inside sandbox'
complete -c hutch -n "__fish_hutch_not_oci" -l assert-userns-disabled -d 'Fail unless further use of user namespace inside sandbox is disabled'
complete -c hutch -n "__fish_hutch_not_oci" -l net-allow-host-loopback -d 'With --net user: let the sandbox reach the host\'s loopback services at 10.0.2.2'
complete -c hutch -n "__fish_hutch_not_oci" -l clearenv -d 'Unset all environment variables'
complete -c hutch -n "__fish_hutch_not_oci" -l new-session -d 'Create a new terminal session'
complete -c hutch -n "__fish_hutch_not_oci" -l die-with-parent -d 'Kills with SIGKILL child process (COMMAND) when bwrap or bwrap\'s parent dies.'
complete -c hutch -n "__fish_hutch_not_oci" -l as-pid-1 -d 'Do not install a reaper process with PID=1'
complete -c hutch -n "__fish_hutch_not_oci" -l forward-signals -d 'Pass SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 on to COMMAND (through the reaper with --unshare-pid), wait for it and exit with its status; ^C on a terminal still reaches it once (default as hutch; as bwrap, bwrap\'s behaviour: hutch dies of the signal, COMMAND is not told)'
complete -c hutch -n "__fish_hutch_not_oci" -l landlock-strict -d 'Fail unless the kernel enforces every Landlock restriction asked for (default: best effort, see --report)'
complete -c hutch -n "__fish_hutch_not_oci" -l landlock-only -d 'Run COMMAND without namespaces, in the host\'s file system, confined by Landlock, the seccomp policy and no_new_privs: for where user namespaces are unavailable. Binds of a path onto itself become Landlock rules (--ro-bind: read and execute, --bind and --dev-bind: everything), --remount-ro takes write rights away; any other mount, a new namespace, --uid, --gid and --hostname are refused with an error naming them. Implies Landlock (with scoping) and the default seccomp policy, also as bwrap'
complete -c hutch -n "__fish_hutch_not_oci" -l landlock-only-fallback -d 'As --landlock-only, but only where the sandbox\'s namespaces cannot be made (a warning says why); elsewhere a sandbox as usual'
complete -c hutch -n "__fish_hutch_not_oci" -l report -d 'Print the protections in force as JSON to stderr before running COMMAND'
complete -c hutch -n "__fish_hutch_not_oci" -l inherit-fds -d 'Let COMMAND inherit every open descriptor, as bwrap does (the default as bwrap)'
complete -c hutch -n "__fish_hutch_not_oci" -l stats -d 'Print wall time, CPU time, peak memory and the limits hit as JSON to stderr when the sandbox ends'
complete -c hutch -n "__fish_hutch_first_arg" -a "oci" -d 'hutch as an OCI runtime, for podman and containerd'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete exec pause resume features" -l root -d 'Where the containers\' state is kept (default /run/hutch-oci for root, $XDG_RUNTIME_DIR/hutch-oci otherwise)' -r -F
complete -c hutch -n "__fish_hutch_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete exec pause resume features" -l log -d 'Also write error messages to FILE' -r -F
complete -c hutch -n "__fish_hutch_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete exec pause resume features" -l log-format -d 'The format of --log\'s lines: text (the default) or json' -r -f -a "text\t''
json\t''"
complete -c hutch -n "__fish_hutch_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete exec pause resume features" -l debug -d 'Accepted as runc does; no effect (the messages are the same)'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete exec pause resume features" -s v -l version -d 'Print the version and the OCI spec version'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete exec pause resume features" -s h -l help -d 'Print the help'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete exec pause resume features" -f -a "create" -d 'Create a container from a bundle; its process waits for start'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete exec pause resume features" -f -a "start" -d 'Start the created container\'s process'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete exec pause resume features" -f -a "state" -d 'Print the container\'s state as OCI state JSON'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete exec pause resume features" -f -a "kill" -d 'Send a signal to the container\'s process (default SIGTERM)'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete exec pause resume features" -f -a "delete" -d 'Delete a stopped or created container'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete exec pause resume features" -f -a "exec" -d 'Run another process in a running container'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete exec pause resume features" -f -a "pause" -d 'Freeze the container\'s processes (cgroup freezer)'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete exec pause resume features" -f -a "resume" -d 'Thaw a paused container'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete exec pause resume features" -f -a "features" -d 'Print what this runtime supports, as the OCI features JSON'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from create" -s b -l bundle -d 'The bundle: the directory of config.json (default: the current directory)' -r -F
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from create" -l pid-file -d 'Write the pid of the process to FILE' -r -F
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from create" -l console-socket -d 'The Unix socket that receives the terminal\'s master side (with a terminal)' -r -F
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from create" -l preserve-fds -d 'Extra descriptors to pass: only 0 is supported' -r
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from create" -l no-pivot -d 'Accepted as runc does; no effect'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from create" -l no-new-keyring -d 'Accepted as runc does; no effect'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from create" -s h -l help -d 'Print the help'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from start" -s h -l help -d 'Print the help'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from state" -s h -l help -d 'Print the help'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from kill" -s a -l all -d 'Also signal every other process of the container\'s cgroup'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from kill" -s h -l help -d 'Print the help'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from delete" -s f -l force -d 'Kill a running container first; no error if it does not exist'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print the help'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from exec" -s p -l process -d 'The process to run, as the JSON of an OCI process (required)' -r -F
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from exec" -l pid-file -d 'Write the pid of the process to FILE' -r -F
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from exec" -l console-socket -d 'The Unix socket that receives the terminal\'s master side (with a terminal)' -r -F
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from exec" -l preserve-fds -d 'Extra descriptors to pass: only 0 is supported' -r
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from exec" -s d -l detach -d 'Return once the process has started, without waiting for it'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from exec" -s t -l tty -d 'Give the process a terminal (through --console-socket)'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from exec" -l no-new-privs -d 'Accepted as runc does; no effect (see --process)'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from exec" -s h -l help -d 'Print the help'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from pause" -s h -l help -d 'Print the help'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from resume" -s h -l help -d 'Print the help'
complete -c hutch -n "__fish_hutch_using_subcommand oci; and __fish_seen_subcommand_from features" -s h -l help -d 'Print the help'
