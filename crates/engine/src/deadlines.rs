//! The deadlines of a shard's entries, kept beside the slab in pages allocated on demand.
//!
//! An entry without a TTL needs no deadline, and in many caches most entries have none. So the
//! slab slot holds only a flag, and the deadline of a slot that has one lives here: in pages of
//! [`PAGE`] deadlines, a page allocated when its first deadline is set and freed when its last is
//! cleared. A shard whose entries carry no TTL spends nothing here (one null pointer per page of
//! slots); one where every entry carries a TTL spends the 8 bytes a slot field would. Reading a
//! deadline costs one more memory load than a field in the slot, paid only by entries that have
//! one (Redis keeps its deadlines in a second dictionary for the same reason).

use crate::clock::Timestamp;
use crate::policy::Slot;
use crate::shard::NEVER;

/// Deadlines per page (4 KiB of them).
pub const PAGE: usize = 512;

struct Page {
    at: [Timestamp; PAGE],
    /// Places in `at` other than [`NEVER`].
    set: u32,
}

/// Deadlines by slot: [`NEVER`] unless set (see the [module docs](self)).
#[derive(Default)]
pub struct Deadlines {
    pages: Vec<Option<Box<Page>>>,
}

impl std::fmt::Debug for Deadlines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deadlines")
            .field("pages", &self.pages.iter().flatten().count())
            .finish()
    }
}

impl Deadlines {
    /// The deadline of `slot`, [`NEVER`] if none is set.
    #[inline]
    pub fn get(&self, slot: Slot) -> Timestamp {
        let slot = slot as usize;
        match self.pages.get(slot / PAGE) {
            Some(Some(page)) => page.at[slot % PAGE],
            _ => NEVER,
        }
    }

    /// Sets the deadline of `slot`; [`NEVER`] clears it (and frees a page left empty).
    pub fn set(&mut self, slot: Slot, at: Timestamp) {
        let slot = slot as usize;
        let (index, place) = (slot / PAGE, slot % PAGE);
        if at == NEVER {
            let Some(Some(page)) = self.pages.get_mut(index) else {
                return;
            };
            if page.at[place] != NEVER {
                page.at[place] = NEVER;
                page.set -= 1;
                if page.set == 0 {
                    self.pages[index] = None;
                }
            }
            return;
        }
        if self.pages.len() <= index {
            self.pages.resize_with(index + 1, || None);
        }
        let page = self.pages[index].get_or_insert_with(|| {
            Box::new(Page {
                at: [NEVER; PAGE],
                set: 0,
            })
        });
        if page.at[place] == NEVER {
            page.set += 1;
        }
        page.at[place] = at;
    }

    /// Clears every deadline and frees every page.
    pub fn clear(&mut self) {
        self.pages = Vec::new();
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.pages.capacity() * size_of::<Option<Box<Page>>>()
            + self.pages.iter().flatten().count() * size_of::<Page>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn no_deadline_costs_no_page() {
        let mut d = Deadlines::default();
        assert_eq!(d.get(7), NEVER);
        d.set(7, NEVER);
        assert_eq!(d.heap_bytes(), 0);
        d.set(3 * PAGE as Slot + 1, 42);
        assert_eq!(d.get(3 * PAGE as Slot + 1), 42);
        assert_eq!(d.pages.iter().flatten().count(), 1);
        d.set(3 * PAGE as Slot + 1, NEVER);
        assert_eq!(
            d.pages.iter().flatten().count(),
            0,
            "the emptied page is freed"
        );
    }

    proptest! {
        #[test]
        fn agrees_with_a_map_and_frees_exactly_the_empty_pages(
            ops in prop::collection::vec((0u32..3 * PAGE as u32, prop::option::of(0u64..1000)), 0..400)
        ) {
            let mut d = Deadlines::default();
            let mut model: HashMap<Slot, Timestamp> = HashMap::new();
            for (slot, at) in ops {
                let at = at.unwrap_or(NEVER);
                d.set(slot, at);
                if at == NEVER { model.remove(&slot); } else { model.insert(slot, at); }
                prop_assert_eq!(d.get(slot), at);
            }
            for slot in 0..3 * PAGE as u32 {
                prop_assert_eq!(d.get(slot), model.get(&slot).copied().unwrap_or(NEVER));
            }
            for (index, page) in d.pages.iter().enumerate() {
                let live = model.keys().filter(|&&s| s as usize / PAGE == index).count();
                match page {
                    Some(page) => prop_assert_eq!(page.set as usize, live),
                    None => prop_assert_eq!(live, 0),
                }
                if let Some(page) = page { prop_assert!(page.set > 0); }
            }
        }
    }
}
