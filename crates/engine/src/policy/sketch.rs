//! TinyLFU's frequency estimate: a count-min sketch of 4-bit counters behind a doorkeeper.
//!
//! * **Sketch.** Counters are 4 bits (saturating at 15), sixteen to a `u64` word. A key maps to
//!   one counter in each of four rows (four independent mixes of its hash); its estimate is the
//!   smallest of the four, which over-counts only on collisions and never under-counts.
//! * **Doorkeeper.** A Bloom filter (two probes) in front of the sketch: the first sighting of a
//!   key in a sample period only sets its doorkeeper bits, so the long tail of one-hit keys never
//!   touches the counters. The estimate adds 1 when the doorkeeper holds the key.
//! * **Aging.** After `sample_size` recorded sightings (10 × the capacity in entries, as in
//!   TinyLFU), every counter is halved and the doorkeeper is cleared, so the sketch follows a
//!   changing popularity instead of remembering forever.
//!
//! Memory: one 4-bit counter per row per expected entry rounded up to a power of two (8 bytes per
//! 16 counters, so 2 bytes per entry for four rows), plus a doorkeeper of one bit per sample-period
//! sighting (10 bits per entry).

const ROWS: usize = 4;
/// Counters per row per expected entry (a wider sketch means fewer collisions).
const COUNTERS_PER_ROW: u64 = 1;
const SEEDS: [u64; ROWS] = [
    0x9E37_79B9_7F4A_7C15,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0x85EB_CA77_C2B2_AE63,
];

#[inline]
fn mix(hash: u64, seed: u64) -> u64 {
    let h = (hash ^ seed).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^ (h >> 31)
}

/// A count-min sketch of 4-bit counters with a doorkeeper and periodic halving.
#[derive(Debug, Clone)]
pub struct FrequencySketch {
    counters: Vec<u64>,
    counter_mask: u64,
    doorkeeper: Vec<u64>,
    door_mask: u64,
    sample_size: u64,
    sightings: u64,
}

impl FrequencySketch {
    /// A sketch sized for about `entries` resident keys.
    pub fn new(entries: u64) -> Self {
        let entries = entries.clamp(16, 1 << 28);
        let counters = entries.next_power_of_two() * ROWS as u64 * COUNTERS_PER_ROW;
        let sample_size = 10 * entries;
        let door_bits = sample_size.next_power_of_two().max(64);
        Self {
            counters: vec![0; (counters / 16) as usize],
            counter_mask: counters - 1,
            doorkeeper: vec![0; (door_bits / 64) as usize],
            door_mask: door_bits - 1,
            sample_size,
            sightings: 0,
        }
    }

    /// Sightings per aging period.
    pub fn sample_size(&self) -> u64 {
        self.sample_size
    }

    #[inline]
    fn door_probe(&self, hash: u64) -> [u64; 2] {
        let h = mix(hash, 0xD6E8_FEB8_6659_FD93);
        [h & self.door_mask, (h >> 32) & self.door_mask]
    }

    #[inline]
    fn door_contains(&self, hash: u64) -> bool {
        self.door_probe(hash)
            .iter()
            .all(|&bit| self.doorkeeper[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }

    /// Records one sighting of the key with this hash.
    pub fn increment(&mut self, hash: u64) {
        if self.door_contains(hash) {
            for seed in SEEDS {
                let index = (mix(hash, seed) & self.counter_mask) as usize;
                let (word, shift) = (index / 16, (index % 16) * 4);
                if (self.counters[word] >> shift) & 0xF < 15 {
                    self.counters[word] += 1 << shift;
                }
            }
        } else {
            for bit in self.door_probe(hash) {
                self.doorkeeper[(bit / 64) as usize] |= 1 << (bit % 64);
            }
        }
        self.sightings += 1;
        if self.sightings >= self.sample_size {
            self.age();
        }
    }

    /// The estimated number of sightings of the key in the current period (0–16).
    pub fn frequency(&self, hash: u64) -> u8 {
        let mut min = 15;
        for seed in SEEDS {
            let index = (mix(hash, seed) & self.counter_mask) as usize;
            let count = (self.counters[index / 16] >> ((index % 16) * 4)) & 0xF;
            min = min.min(count as u8);
        }
        min + u8::from(self.door_contains(hash))
    }

    /// Halves every counter and clears the doorkeeper.
    fn age(&mut self) {
        for word in &mut self.counters {
            *word = (*word >> 1) & 0x7777_7777_7777_7777;
        }
        self.doorkeeper.fill(0);
        self.sightings /= 2;
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.counters.fill(0);
        self.doorkeeper.fill(0);
        self.sightings = 0;
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        (self.counters.capacity() + self.doorkeeper.capacity()) * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_saturate_and_age() {
        let mut sketch = FrequencySketch::new(1000);
        let hot = 0xDEAD_BEEF_u64;
        assert_eq!(sketch.frequency(hot), 0);
        sketch.increment(hot);
        assert_eq!(
            sketch.frequency(hot),
            1,
            "first sighting lands in the doorkeeper"
        );
        for _ in 0..40 {
            sketch.increment(hot);
        }
        assert_eq!(
            sketch.frequency(hot),
            16,
            "15 in the sketch plus the doorkeeper"
        );
        // Fill the sample period with other keys: counters halve, the doorkeeper clears.
        for k in 0..sketch.sample_size() {
            sketch.increment(k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
        let aged = sketch.frequency(hot);
        assert!((7..=9).contains(&aged), "aged estimate {aged}");
    }

    #[test]
    fn estimates_separate_hot_from_cold() {
        let mut sketch = FrequencySketch::new(4096);
        for round in 0..8u64 {
            for k in 0..64u64 {
                sketch.increment(k);
            }
            for k in 0..512u64 {
                sketch.increment(1_000_000 + round * 512 + k);
            }
        }
        let hot: u32 = (0..64u64).map(|k| u32::from(sketch.frequency(k))).sum();
        let cold: u32 = (0..64u64)
            .map(|k| u32::from(sketch.frequency(1_000_000 + k)))
            .sum();
        assert!(hot > 4 * cold, "hot {hot} vs cold {cold}");
    }
}
