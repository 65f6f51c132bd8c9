//! Message ids derived from what a message is, not drawn at random: the same report
//! rendered again (a run killed before its findings were recorded, `scan --notify`
//! rerun before the first delivery was recorded) gets the same `Message-ID` and
//! `webhook-id`, so the outbox keeps one copy and a receiver can drop a redelivery.

use sha2::{Digest, Sha256};

/// The ids of the messages of one report or notice.
pub struct MessageIds {
    seed: [u8; 32],
}

impl MessageIds {
    /// `instance` is the state store's own random id (two stores never mint the same
    /// id); `parts` say what the report is (source, the report it follows, its findings).
    pub fn new(instance: &str, parts: &[&str]) -> MessageIds {
        let mut h = Sha256::new();
        h.update(b"keywarden message id v1");
        for p in std::iter::once(&instance).chain(parts) {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p.as_bytes());
        }
        MessageIds {
            seed: h.finalize().into(),
        }
    }

    fn token(&self, channel: &str, event: &str, index: usize) -> String {
        let mut h = Sha256::new();
        h.update(self.seed);
        for p in [channel, event, &index.to_string()] {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p.as_bytes());
        }
        hex::encode(&h.finalize()[..16])
    }

    /// The `webhook-id` of the `index`-th event of `channel`.
    pub fn webhook(&self, channel: &str, event: &str, index: usize) -> String {
        format!("msg_{}", self.token(channel, event, index))
    }

    /// The `Message-ID` of the email to `channel` (sent from `from`).
    pub fn email(&self, channel: &str, from: &str, event: &str) -> String {
        super::email::message_id(
            from,
            &format!("keywarden.{}", self.token(channel, event, 0)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_same_ids_and_any_change_another() {
        let a = MessageIds::new("inst", &["scan:x", "0", "[]"]);
        let b = MessageIds::new("inst", &["scan:x", "0", "[]"]);
        assert_eq!(a.webhook("h", "e", 0), b.webhook("h", "e", 0));
        assert_eq!(
            a.email("m", "K <k@example.com>", "e"),
            b.email("m", "K <k@example.com>", "e")
        );
        assert!(
            a.email("m", "K <k@example.com>", "e")
                .ends_with("@example.com>")
        );
        let w = a.webhook("h", "e", 0);
        assert!(w.starts_with("msg_") && w.len() == 36, "{w}");
        for other in [
            MessageIds::new("inst2", &["scan:x", "0", "[]"]),
            MessageIds::new("inst", &["scan:x", "1", "[]"]),
            MessageIds::new("inst", &["scan:x0", "", "[]"]),
        ] {
            assert_ne!(other.webhook("h", "e", 0), w);
        }
        assert_ne!(a.webhook("h", "e", 1), w);
        assert_ne!(a.webhook("h2", "e", 0), w);
    }
}
