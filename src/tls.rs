//! The one rustls crypto provider of the process: `ring` (aws-lc-rs needs cmake, and two
//! providers make rustls panic). reqwest and lettre are built without a provider of their
//! own; every TLS client calls [`install_provider`] before it is built.

/// Installs `ring` as the process-wide rustls provider; idempotent and thread-safe.
pub fn install_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means a provider is already installed: the same one, by this function.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
