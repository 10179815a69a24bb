//! String commands.

use super::{Ctx, Spec, err, flag};
use crate::value::Value;
use larder_engine::NEVER;

/// The commands of this module.
pub static SPECS: &[Spec] = &[
    Spec {
        name: "get",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        keys: (1, 1, 1),
        group: "string",
        summary: "Get the value of a key",
        since: "1.0.0",
        handler: get,
    },
    Spec {
        name: "set",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM,
        keys: (1, 1, 1),
        group: "string",
        summary: "Set the string value of a key",
        since: "1.0.0",
        handler: set,
    },
];

fn get(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let db = ctx.db();
    let reply = &mut ctx.reply;
    let found = ctx.shared.keyspace.get_with(db, args[1], |value| {
        let mut buf = [0; 20];
        match value.as_bytes(&mut buf) {
            Some(bytes) => {
                reply.bulk(bytes);
                true
            }
            None => false,
        }
    });
    match found {
        Some(true) => {}
        Some(false) => ctx.error(err::WRONGTYPE),
        None => ctx.reply.null(),
    }
}

fn set(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    if args.len() != 3 {
        return ctx.error(err::SYNTAX);
    }
    let db = ctx.db();
    match ctx
        .shared
        .keyspace
        .set(db, args[1], Value::string(args[2]), NEVER)
    {
        Ok(()) => ctx.reply.ok(),
        Err(e) => ctx.insert_error(e),
    }
}
