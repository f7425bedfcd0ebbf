//! ed25519 keys and signatures in CppNix's text format: `name:base64(key)` for keys (the
//! secret key is the 64-byte seed‖public key) and `name:base64(signature)` for signatures.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::base64::{decode as base64_decode, encode as base64_encode};

/// Why a key or signature could not be parsed or made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not `name:base64`.
    #[error("key '{0}' is not of the form NAME:BASE64")]
    Format(String),
    /// The base64 part has the wrong length or does not decode.
    #[error("key '{0}' has invalid key material")]
    Material(String),
    /// The OS random source failed.
    #[error("no randomness for key generation: {0}")]
    Random(String),
}

fn split(s: &str) -> Result<(&str, Vec<u8>), KeyError> {
    let (name, data) = s
        .trim()
        .split_once(':')
        .filter(|(n, _)| !n.is_empty())
        .ok_or_else(|| KeyError::Format(s.to_owned()))?;
    let bytes = base64_decode(data).map_err(|_| KeyError::Material(name.to_owned()))?;
    Ok((name, bytes))
}

/// A secret signing key with its name.
#[derive(Clone)]
pub struct SecretKey {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.name)
    }
}

impl SecretKey {
    /// Parses `name:base64(seed‖public)`.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let (name, bytes) = split(s)?;
        let bytes: [u8; 64] = bytes
            .try_into()
            .map_err(|_| KeyError::Material(name.to_owned()))?;
        let key = SigningKey::from_keypair_bytes(&bytes)
            .map_err(|_| KeyError::Material(name.to_owned()))?;
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// A fresh key called `name`, from the OS random source.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The text form, as `nix-store --generate-binary-cache-key` writes it.
    pub fn to_text(&self) -> String {
        format!(
            "{}:{}",
            self.name,
            base64_encode(&self.key.to_keypair_bytes())
        )
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// Signs `data`; returns `name:base64(signature)`.
    pub fn sign(&self, data: &[u8]) -> String {
        let sig = self.key.sign(data);
        format!("{}:{}", self.name, base64_encode(&sig.to_bytes()))
    }
}

/// A public verification key with its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    name: String,
    key: VerifyingKey,
}

impl PublicKey {
    /// Parses `name:base64(public key)`.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let (name, bytes) = split(s)?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::Material(name.to_owned()))?;
        let key =
            VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::Material(name.to_owned()))?;
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The text form.
    pub fn to_text(&self) -> String {
        format!("{}:{}", self.name, base64_encode(self.key.as_bytes()))
    }

    /// True if `sig` (`name:base64`) is this key's signature of `data`.
    pub fn verify(&self, data: &[u8], sig: &str) -> bool {
        let Some((name, b64)) = sig.split_once(':') else {
            return false;
        };
        if name != self.name {
            return false;
        }
        let Ok(bytes) = base64_decode(b64) else {
            return false;
        };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes) else {
            return false;
        };
        self.key
            .verify(data, &Signature::from_bytes(&bytes))
            .is_ok()
    }
}
