# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_hutch_oci_global_optspecs
    string join \n root= log= log-format= debug v/version h/help
end

function __fish_hutch_oci_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_hutch_oci_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_hutch_oci_using_subcommand
    set -l cmd (__fish_hutch_oci_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c hutch-oci -n "__fish_hutch_oci_needs_command" -l root -d 'Where the containers\' state is kept (default /run/hutch-oci for root, $XDG_RUNTIME_DIR/hutch-oci otherwise)' -r -F
complete -c hutch-oci -n "__fish_hutch_oci_needs_command" -l log -d 'Also write error messages to FILE' -r -F
complete -c hutch-oci -n "__fish_hutch_oci_needs_command" -l log-format -d 'The format of --log\'s lines: text (the default) or json' -r -f -a "text\t''
json\t''"
complete -c hutch-oci -n "__fish_hutch_oci_needs_command" -l debug -d 'Accepted as runc does; no effect (the messages are the same)'
complete -c hutch-oci -n "__fish_hutch_oci_needs_command" -s v -l version -d 'Print the version and the OCI spec version'
complete -c hutch-oci -n "__fish_hutch_oci_needs_command" -s h -l help -d 'Print the help'
complete -c hutch-oci -n "__fish_hutch_oci_needs_command" -f -a "create" -d 'Create a container from a bundle; its process waits for start'
complete -c hutch-oci -n "__fish_hutch_oci_needs_command" -f -a "start" -d 'Start the created container\'s process'
complete -c hutch-oci -n "__fish_hutch_oci_needs_command" -f -a "state" -d 'Print the container\'s state as OCI state JSON'
complete -c hutch-oci -n "__fish_hutch_oci_needs_command" -f -a "kill" -d 'Send a signal to the container\'s process (default SIGTERM)'
complete -c hutch-oci -n "__fish_hutch_oci_needs_command" -f -a "delete" -d 'Delete a stopped or created container'
complete -c hutch-oci -n "__fish_hutch_oci_needs_command" -f -a "exec" -d 'Run another process in a running container'
complete -c hutch-oci -n "__fish_hutch_oci_needs_command" -f -a "pause" -d 'Freeze the container\'s processes (cgroup freezer)'
complete -c hutch-oci -n "__fish_hutch_oci_needs_command" -f -a "resume" -d 'Thaw a paused container'
complete -c hutch-oci -n "__fish_hutch_oci_needs_command" -f -a "features" -d 'Print what this runtime supports, as the OCI features JSON'
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand create" -s b -l bundle -d 'The bundle: the directory of config.json (default: the current directory)' -r -F
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand create" -l pid-file -d 'Write the pid of the process to FILE' -r -F
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand create" -l console-socket -d 'The Unix socket that receives the terminal\'s master side (with a terminal)' -r -F
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand create" -l preserve-fds -d 'Extra descriptors to pass: only 0 is supported' -r
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand create" -l no-pivot -d 'Accepted as runc does; no effect'
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand create" -l no-new-keyring -d 'Accepted as runc does; no effect'
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand create" -s h -l help -d 'Print the help'
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand start" -s h -l help -d 'Print the help'
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand state" -s h -l help -d 'Print the help'
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand kill" -s a -l all -d 'Also signal every other process of the container\'s cgroup'
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand kill" -s h -l help -d 'Print the help'
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand delete" -s f -l force -d 'Kill a running container first; no error if it does not exist'
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand delete" -s h -l help -d 'Print the help'
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand exec" -s p -l process -d 'The process to run, as the JSON of an OCI process (required)' -r -F
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand exec" -l pid-file -d 'Write the pid of the process to FILE' -r -F
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand exec" -l console-socket -d 'The Unix socket that receives the terminal\'s master side (with a terminal)' -r -F
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand exec" -l preserve-fds -d 'Extra descriptors to pass: only 0 is supported' -r
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand exec" -s d -l detach -d 'Return once the process has started, without waiting for it'
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand exec" -s t -l tty -d 'Give the process a terminal (through --console-socket)'
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand exec" -l no-new-privs -d 'Accepted as runc does; no effect (see --process)'
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand exec" -s h -l help -d 'Print the help'
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand pause" -s h -l help -d 'Print the help'
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand resume" -s h -l help -d 'Print the help'
complete -c hutch-oci -n "__fish_hutch_oci_using_subcommand features" -s h -l help -d 'Print the help'
