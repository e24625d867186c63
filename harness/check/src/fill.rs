//! Map contents a contract says the harness writes before any frame is sent (a backend table,
//! redirect ports), as data: a part lists its [`Fill`]s and the harness applies them on every
//! fresh load. A part's set-up step ([`Setup`]) is the function that applies them (or any
//! other set-up a part needs) to a target.

use std::sync::Arc;

use kernel::{
    error::{Error, Result},
    target::{Mode, Target},
};

/// A part's set-up step; see [`Part::setup`](crate::lab::Part::setup).
#[derive(Clone)]
pub struct Setup(pub std::sync::Arc<SetupFn>);

/// The function behind a [`Setup`].
pub type SetupFn = dyn Fn(&mut dyn Target) -> Result<()> + Send + Sync;

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Setup(..)")
    }
}

/// The loopback device's ifindex, the same in every namespace: the DEVMAP target in test-run
/// mode, where the kernel reports a REDIRECT without sending anything.
const LOOPBACK: u32 = 1;

/// One map entry the harness writes.
#[derive(Debug, Clone)]
pub enum Fill {
    /// `value` at `index` of the ARRAY `map`.
    Array {
        /// The map's name.
        map: &'static str,
        /// The key.
        index: u32,
        /// The raw value, as the contract lays it out.
        value: Vec<u8>,
    },
    /// `index` of the DEVMAP `map` = the interface `ifname` of namespace role `ns`. In
    /// test-run mode, which has no interfaces, it is the loopback device.
    Devmap {
        /// The map's name.
        map: &'static str,
        /// The key.
        index: u32,
        /// The namespace role of the interface.
        ns: &'static str,
        /// The interface's name in that namespace.
        ifname: &'static str,
    },
}

/// A part's set-up step that writes `fills` in order.
pub fn setup(fills: Vec<Fill>) -> Setup {
    Setup(Arc::new(move |t| apply(t, &fills)))
}

/// Writes `fills` into the program's maps.
pub fn apply(t: &mut dyn Target, fills: &[Fill]) -> Result<()> {
    for fill in fills {
        match fill {
            Fill::Array { map, index, value } => {
                t.program().maps().array_set(map, *index, value)?;
            }
            Fill::Devmap {
                map,
                index,
                ns,
                ifname,
            } => {
                if t.mode() == Mode::TestRun {
                    t.program().maps().devmap_set(map, *index, LOOPBACK)?;
                    continue;
                }
                let vt = t.veth().ok_or_else(|| {
                    Error::env(format!("filling DEVMAP `{map}` needs a veth topology"))
                })?;
                let ifindex = vt.topology().iface(ns, ifname)?.ifindex;
                // A DEVMAP resolves an ifindex in the namespace of whoever updates it.
                vt.in_program_namespace(|p| p.maps().devmap_set(map, *index, ifindex))??;
            }
        }
    }
    Ok(())
}
