"""What travels between poller, broker and worker, and back to SWF: the job
message, wire formats, outcomes and SWF's size limits. Pure, no I/O."""
