//! What the handshake changes: the hellos give the version, suite, randoms and
//! resumption, and each message that changes keys (TLS 1.2 ChangeCipherSpec, TLS 1.3
//! Finished, EndOfEarlyData, KeyUpdate) sets the direction's next opener from the key
//! log's secrets.

use super::*;

impl Session {
    pub(super) fn opener13(&self, s: &Secret) -> Option<Opener> {
        Opener::tls13(self.suite?, s.bytes())
    }

    pub(super) fn change_cipher_spec(&mut self, dir: Direction) {
        if self.summary.version == Some(TLS13) || self.summary.version.is_none() {
            // TLS 1.3 middlebox compatibility: means nothing.
            return;
        }
        let i = dir.index();
        if !matches!(self.halves[i].keying, Keying::Plain) {
            return;
        }
        let opener = self.tls12_opener(dir);
        self.halves[i].keying = match opener {
            Some(o) => Keying::Sealed {
                opener: o,
                seq: 0,
                stage: Stage::Traffic,
            },
            None => Keying::NoKey,
        };
    }

    pub(super) fn tls12_opener(&mut self, dir: Direction) -> Option<Opener> {
        let (ch, sh) = (self.ch.as_deref()?, self.sh.as_deref()?);
        let suite = self.suite?;
        let master = self.master?;
        Opener::tls12(
            suite,
            &master,
            &ch.random,
            &sh.random,
            dir == Direction::ClientToServer,
            sh.encrypt_then_mac,
        )
    }

    pub(super) fn alert(
        &mut self,
        dir: Direction,
        range: Range<usize>,
        at: Provenance,
        up: &mut dyn FnMut(Up),
    ) {
        let h = &mut self.halves[dir.index()];
        let Some(&[level, description, ..]) = h.buf.get(range) else {
            return;
        };
        if self.summary.alerts.len() < MAX_ALERTS {
            self.summary.alerts.push(TlsAlert {
                dir,
                level,
                description,
                packet: at.packet,
            });
            self.changed = true;
        }
        if description == 0 {
            h.closed = true;
            up(Up::Closed(dir, at));
        }
    }

    /// Handshake bytes (plaintext) of direction `dir`, from its buffer's `range`.
    pub(super) fn handshake(&mut self, dir: Direction, range: Range<usize>, at: Provenance) {
        let i = dir.index();
        {
            let Half {
                buf, hs, hs_skip, ..
            } = &mut self.halves[i];
            let mut b = buf.get(range).unwrap_or(&[]);
            let skip = (*hs_skip).min(b.len());
            *hs_skip -= skip;
            b = &b[skip..];
            hs.extend_from_slice(b);
        }
        loop {
            let h = &mut self.halves[i];
            if h.hs_skip > 0 {
                return;
            }
            let Some(head) = h.hs.get(..4) else { return };
            let ty = head[0];
            let len = u32::from_be_bytes([0, head[1], head[2], head[3]]) as usize;
            if len > MAX_HANDSHAKE {
                // Read past it without keeping it.
                let have = h.hs.len() - 4;
                h.hs_skip = len.saturating_sub(have);
                h.hs.clear();
                if ty != kind::CERTIFICATE {
                    self.warnings.push(Warning {
                        dir,
                        packet: at.packet,
                        note: Note::Malformed(ty),
                    });
                }
                continue;
            }
            if h.hs.len() < 4 + len {
                return;
            }
            let tls13 = self.summary.version == Some(TLS13);
            let msg = hello::parse(ty, &h.hs[4..4 + len], tls13);
            h.hs.drain(..4 + len);
            match msg {
                Ok(m) => self.message(dir, m, at),
                Err(_) => self.warnings.push(Warning {
                    dir,
                    packet: at.packet,
                    note: Note::Malformed(ty),
                }),
            }
        }
    }

    /// What one handshake message changes.
    pub(super) fn message(&mut self, dir: Direction, m: Message, at: Provenance) {
        let i = dir.index();
        match m {
            Message::ClientHello(ch) if dir == Direction::ClientToServer && self.sh.is_none() => {
                self.summary.sni = ch.sni.clone();
                self.secrets = self.keys.get(&ch.random);
                if self.secrets.is_none() {
                    // A resumed TLS 1.2 session may still be found by its ID or ticket.
                    self.summary.decryption = Decryption::NoKey;
                }
                self.ch = Some(Box::new(ch));
                self.changed = true;
                if matches!(self.halves[1].keying, Keying::Hold) {
                    self.halves[1].keying = Keying::Plain;
                }
            }
            Message::ServerHello(sh)
                if dir == Direction::ServerToClient && !sh.retry && self.sh.is_none() =>
            {
                self.server_hello(sh, at);
            }
            Message::EncryptedExtensions { alpn, early_data } => {
                self.early_accepted = early_data;
                if alpn.is_some() {
                    self.summary.alpn = alpn;
                    self.changed = true;
                }
                if let Some(o) = self.early.take() {
                    if matches!(self.halves[0].keying, Keying::Hold) {
                        self.halves[0].keying = Keying::Sealed {
                            opener: o,
                            seq: 0,
                            stage: Stage::Early {
                                accepted: early_data,
                            },
                        };
                    }
                }
            }
            Message::Ticket(t) => {
                if let Some(m) = self.master {
                    self.keys.remember_session(&t, m);
                }
            }
            Message::EndOfEarlyData if dir == Direction::ClientToServer => {
                let o = self
                    .secrets
                    .and_then(|s| s.client_handshake)
                    .and_then(|s| self.opener13(&s));
                self.halves[i].keying = match o {
                    Some(o) => Keying::Sealed {
                        opener: o,
                        seq: 0,
                        stage: Stage::Handshake,
                    },
                    None => Keying::NoKey,
                };
            }
            Message::Finished if self.summary.version == Some(TLS13) => {
                let Keying::Sealed {
                    stage: Stage::Handshake,
                    ..
                } = self.halves[i].keying
                else {
                    return;
                };
                let secret = self.secrets.and_then(|s| match dir {
                    Direction::ClientToServer => s.client_traffic,
                    Direction::ServerToClient => s.server_traffic,
                });
                self.halves[i].keying = match secret.and_then(|s| self.opener13(&s)) {
                    Some(o) => Keying::Sealed {
                        opener: o,
                        seq: 0,
                        stage: Stage::Traffic,
                    },
                    None => {
                        self.summary.decryption = Decryption::NoKey;
                        self.changed = true;
                        Keying::NoKey
                    }
                };
            }
            Message::KeyUpdate => {
                if let Keying::Sealed { opener, seq, .. } = &mut self.halves[i].keying {
                    if let Some(next) = opener.next_generation() {
                        *opener = next;
                        *seq = 0;
                        self.summary.key_updates += 1;
                        self.changed = true;
                    }
                }
            }
            _ => {}
        }
    }

    pub(super) fn server_hello(&mut self, sh: ServerHello, at: Provenance) {
        let Some(ch) = self.ch.as_deref() else {
            // A ServerHello without a ClientHello: no random to find keys by.
            self.summary.decryption = Decryption::NoHandshake;
            for h in &mut self.halves {
                h.keying = Keying::NoKey;
            }
            self.changed = true;
            return;
        };
        let (ch_session, ch_ticket, ch_early) =
            (ch.session_id.clone(), ch.ticket.clone(), ch.early_data);
        self.summary.version = Some(sh.version);
        self.summary.suite = Some(sh.suite);
        if sh.alpn.is_some() {
            self.summary.alpn = sh.alpn.clone();
        }
        let tls13 = sh.version == TLS13;
        let resumed_12 = !tls13 && !ch_session.is_empty() && ch_session == sh.session_id;
        self.summary.resumed = if tls13 { sh.psk } else { resumed_12 };
        self.changed = true;
        self.suite = Suite::from_id(sh.suite).filter(|s| s.is_tls13() == tls13);
        if self.suite.is_none() || !(tls13 || sh.version == 0x0303) {
            let what = match sh.version {
                0x0300 => "SSL 3.0".to_string(),
                0x0301 => "version 1.0".to_string(),
                0x0302 => "version 1.1".to_string(),
                _ => format!(
                    "cipher suite {}",
                    crate::layers::tls::crypto::suite_name(sh.suite)
                        .map_or_else(|| format!("0x{:04x}", sh.suite), str::to_string)
                ),
            };
            self.summary.decryption = Decryption::Unsupported;
            for h in &mut self.halves {
                h.keying = Keying::NoKey;
            }
            self.warnings.push(Warning {
                dir: Direction::ServerToClient,
                packet: at.packet,
                note: Note::Unsupported(what),
            });
            self.sh = Some(Box::new(sh));
            return;
        }
        if tls13 {
            let s = self.secrets.unwrap_or_default();
            let open = |x: Option<Secret>| x.and_then(|x| self.opener13(&x));
            let server = match (open(s.server_handshake), open(s.server_traffic)) {
                (Some(o), _) => Keying::Sealed {
                    opener: o,
                    seq: 0,
                    stage: Stage::Handshake,
                },
                (None, Some(o)) => Keying::Sealed {
                    opener: o,
                    seq: 0,
                    stage: Stage::SkipHandshake { skipped: 0 },
                },
                (None, None) => Keying::NoKey,
            };
            let early = open(s.client_early.filter(|_| ch_early));
            let client = match (early, open(s.client_handshake), open(s.client_traffic)) {
                (Some(o), _, _) => {
                    // Read once the server's EncryptedExtensions say whether it took them.
                    self.early = Some(o);
                    Keying::Hold
                }
                (None, Some(o), _) => Keying::Sealed {
                    opener: o,
                    seq: 0,
                    stage: if ch_early {
                        Stage::SkipEarly {
                            skipped: 0,
                            bytes: 0,
                        }
                    } else {
                        Stage::Handshake
                    },
                },
                (None, None, Some(o)) => Keying::Sealed {
                    opener: o,
                    seq: 0,
                    stage: Stage::SkipHandshake { skipped: 0 },
                },
                (None, None, None) => Keying::NoKey,
            };
            if matches!(server, Keying::NoKey) && matches!(client, Keying::NoKey) {
                self.summary.decryption = Decryption::NoKey;
            }
            self.halves[1].keying = server;
            if matches!(self.halves[0].keying, Keying::Hold | Keying::Plain) {
                self.halves[0].keying = client;
            }
        } else {
            let mut master = self.secrets.and_then(|s| s.master);
            if master.is_none() && resumed_12 {
                master = self
                    .keys
                    .session(&sh.session_id)
                    .or_else(|| ch_ticket.as_deref().and_then(|t| self.keys.session(t)));
            }
            self.master = master;
            match master {
                Some(m) if !resumed_12 => {
                    self.keys.remember_session(&sh.session_id, m);
                    self.summary.decryption = Decryption::Pending;
                }
                Some(_) => self.summary.decryption = Decryption::Pending,
                None => self.summary.decryption = Decryption::NoKey,
            }
        }
        self.sh = Some(Box::new(sh));
    }
}
