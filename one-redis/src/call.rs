//! What the stores send: one [`Call`] per record touched, and the exchange that sends a list of
//! them to one server in one round trip.

use redis::aio::MultiplexedConnection;
use redis::{Cmd, ErrorKind, RedisError, Value};

use crate::record::{self, Script};

/// One command on one record.
pub(crate) struct Call {
    /// The Redis key of the record (empty for commands on no key).
    pub(crate) key: Vec<u8>,
    pub(crate) command: Command,
}

/// The commands the stores send.
pub(crate) enum Command {
    /// `SET key c NX PX millis`: the whole of `add`.
    SetNx { millis: u64 },
    /// `EXISTS key`.
    Exists,
    /// `DEL key`.
    Del,
    /// A lease script on the key, with these arguments.
    Script {
        script: &'static Script,
        args: Vec<Vec<u8>>,
    },
    /// `CLUSTER SLOTS` (on no key): which node serves which slots.
    ClusterSlots,
}

impl Call {
    /// A call of `command` on the record under `key`.
    pub(crate) fn new(key: Vec<u8>, command: Command) -> Self {
        Call { key, command }
    }

    fn is_script(&self) -> bool {
        matches!(self.command, Command::Script { .. })
    }

    /// The command to send; a script by its SHA-1 (`EVALSHA`), or with its `source` (`EVAL`)
    /// when the server does not have it cached.
    pub(crate) fn cmd(&self, source: bool) -> Cmd {
        let mut cmd;
        match &self.command {
            Command::SetNx { millis } => {
                cmd = redis::cmd("SET");
                cmd.arg(&self.key)
                    .arg(record::ADDED)
                    .arg("NX")
                    .arg("PX")
                    .arg(*millis);
            }
            Command::Exists => {
                cmd = redis::cmd("EXISTS");
                cmd.arg(&self.key);
            }
            Command::Del => {
                cmd = redis::cmd("DEL");
                cmd.arg(&self.key);
            }
            Command::Script { script, args } => {
                if source {
                    cmd = redis::cmd("EVAL");
                    cmd.arg(script.source);
                } else {
                    cmd = redis::cmd("EVALSHA");
                    cmd.arg(&script.sha1);
                }
                cmd.arg(1).arg(&self.key);
                for arg in args {
                    cmd.arg(arg.as_slice());
                }
            }
            Command::ClusterSlots => {
                cmd = redis::cmd("CLUSTER");
                cmd.arg("SLOTS");
            }
        }
        cmd
    }
}

/// One call as sent to a server: after `ASKING` when a cluster node redirected it with `ASK`
/// (its slot is being migrated to that server).
#[derive(Clone, Copy)]
pub(crate) struct Sent<'a> {
    pub(crate) call: &'a Call,
    pub(crate) asking: bool,
}

/// Sends `sent` in one round trip (one command, or one pipeline in order) and reads one reply
/// per call; a server's error reply stays a [`Value::ServerError`] of its call.
///
/// Scripts go by their SHA-1. Those the server has not cached yet (after a restart or `SCRIPT
/// FLUSH`, or on a cluster node that never ran them) answer `NOSCRIPT` without running; they
/// are sent again with their source, a second round trip once per script and server.
///
/// In a pipeline, the first call of each script goes with its source (`EVAL`), which caches it
/// for the calls after it. Otherwise another client loading the script while the server works
/// through the pipeline would let later calls run while earlier ones answered `NOSCRIPT` and
/// ran only in the second round, out of order: `claim_many` over a repeated key would then
/// acquire it at a later index than the first.
pub(crate) async fn exchange(
    conn: &mut MultiplexedConnection,
    sent: &[Sent<'_>],
) -> Result<Vec<Value>, RedisError> {
    let mut replies = round(conn, sent, false).await?;
    let missing: Vec<usize> = (0..replies.len())
        .filter(|&i| {
            sent[i].call.is_script()
                && matches!(&replies[i], Value::ServerError(e) if e.code() == "NOSCRIPT")
        })
        .collect();
    if !missing.is_empty() {
        let again: Vec<Sent<'_>> = missing.iter().map(|&i| sent[i]).collect();
        let answers = round(conn, &again, true).await?;
        for (i, answer) in missing.into_iter().zip(answers) {
            replies[i] = answer;
        }
    }
    Ok(replies)
}

/// One round trip: the calls' commands, each after `ASKING` if asked, and their replies.
async fn round(
    conn: &mut MultiplexedConnection,
    sent: &[Sent<'_>],
    source: bool,
) -> Result<Vec<Value>, RedisError> {
    if let [one] = sent
        && !one.asking
    {
        return Ok(vec![conn.send_packed_command(&one.call.cmd(source)).await?]);
    }
    let mut pipeline = redis::pipe();
    let mut count = 0;
    // The scripts this pipeline sends with their source (a few at most: compare by address).
    let mut with_source: Vec<&'static Script> = Vec::new();
    for s in sent {
        if s.asking {
            pipeline.add_command(redis::cmd("ASKING"));
            count += 1;
        }
        let source = match &s.call.command {
            Command::Script { script, .. } if !source => {
                let first = !with_source.iter().any(|seen| std::ptr::eq(*seen, *script));
                if first {
                    with_source.push(script);
                }
                first
            }
            _ => source,
        };
        pipeline.add_command(s.call.cmd(source));
        count += 1;
    }
    let mut replies = conn
        .send_packed_commands(&pipeline, 0, count)
        .await?
        .into_iter();
    let mut answers = Vec::with_capacity(sent.len());
    for s in sent {
        if s.asking {
            // ASKING's `OK`: if it failed, the command after it answers with a redirection.
            replies.next();
        }
        // Never a guess: a missing reply is an error, not a nil ("duplicate").
        let reply = replies.next().ok_or_else(|| {
            RedisError::from((
                ErrorKind::UnexpectedReturnType,
                "fewer replies than commands in a pipeline",
            ))
        })?;
        answers.push(reply);
    }
    Ok(answers)
}
