//! A request body as it arrived: the frames hyper delivered, never joined.
//!
//! Owns: holding a received body, feeding it to a hash piece by piece, and
//! sending it on as the same frames.
//!
//! Does not own: reading it under the size limit and deadline (`proxy`), nor
//! what is signed (`providers`).
//!
//! A 64 KiB webhook reaches hyper in several reads. Joining the frames into
//! one buffer would pass over every byte once more than the HMAC already does
//! (and allocate a buffer as large as the body); keeping them lets the HMAC
//! read the body in place and the upstream write send the same frames
//! (frames too small to be worth a handle are gathered into one buffer).
//! Only schemes that must parse the body see it joined, through
//! [`Payload::contiguous`], which borrows when there is one frame.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};

/// Frames shorter than this are copied together rather than kept one by one:
/// a body sent as tiny chunks must not cost a handle per chunk (32 bytes to
/// hold one byte) nor pin every read buffer it came in.
const MIN_KEPT_FRAME: usize = 4096;

/// The received body, in order. The common one-frame body is held inline
/// with no allocation, and a `Payload` is no larger than one `Bytes`: every
/// request future holds one and is moved into its box once per request.
#[derive(Debug, Clone)]
pub struct Payload(Frames);

#[derive(Debug, Clone)]
enum Frames {
    /// Nothing yet, or the single frame the body came in.
    One(Bytes),
    /// A body that came in several frames.
    Many(Box<ManyFrames>),
}

/// Large frames as they came, then small ones gathered into `tail`.
#[derive(Debug, Clone)]
struct ManyFrames {
    frames: VecDeque<Bytes>,
    tail: BytesMut,
    len: u64,
}

impl ManyFrames {
    fn push(&mut self, frame: Bytes) {
        self.len += frame.len() as u64;
        if frame.len() < MIN_KEPT_FRAME {
            self.tail.extend_from_slice(&frame);
        } else {
            if !self.tail.is_empty() {
                self.frames.push_back(self.tail.split().freeze());
            }
            self.frames.push_back(frame);
        }
    }

    /// Every byte in one buffer, in order.
    fn joined(&self) -> Vec<u8> {
        let mut joined = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        for frame in &self.frames {
            joined.extend_from_slice(frame);
        }
        joined.extend_from_slice(&self.tail);
        joined
    }

    /// Takes the next frame to send.
    fn pop(&mut self) -> Option<Bytes> {
        let frame = self
            .frames
            .pop_front()
            .or_else(|| (!self.tail.is_empty()).then(|| self.tail.split().freeze()))?;
        self.len -= frame.len() as u64;
        Some(frame)
    }
}

impl Default for Payload {
    fn default() -> Self {
        Payload(Frames::One(Bytes::new()))
    }
}

impl Payload {
    /// An empty body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the next frame: kept as it is when large, copied into the
    /// tail when small, dropped when empty (it carries nothing).
    pub fn push(&mut self, frame: Bytes) {
        if frame.is_empty() {
            return;
        }
        match &mut self.0 {
            Frames::One(first) if first.is_empty() => *first = frame,
            Frames::One(first) => {
                let first = std::mem::take(first);
                let mut many = Box::new(ManyFrames {
                    len: first.len() as u64,
                    frames: VecDeque::from([first]),
                    tail: BytesMut::new(),
                });
                many.push(frame);
                self.0 = Frames::Many(many);
            }
            Frames::Many(many) => many.push(frame),
        }
    }

    /// Total length in bytes.
    pub(crate) fn len(&self) -> u64 {
        match &self.0 {
            Frames::One(bytes) => bytes.len() as u64,
            Frames::Many(many) => many.len,
        }
    }

    /// True when there is no byte at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes in order, one slice per frame: what a hash is fed.
    pub(crate) fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        let (one, many) = match &self.0 {
            Frames::One(bytes) => (&bytes[..], None),
            Frames::Many(many) => (&[][..], Some(many)),
        };
        let many = many.into_iter().flat_map(|many| {
            many.frames
                .iter()
                .map(|frame| &frame[..])
                .chain(std::iter::once(&many.tail[..]))
        });
        std::iter::once(one)
            .chain(many)
            .filter(|chunk| !chunk.is_empty())
    }

    /// The body as one slice, for schemes that parse it (JSON fields, form
    /// parameters, an Ed25519 message): borrowed when it is one frame.
    pub(crate) fn contiguous(&self) -> Cow<'_, [u8]> {
        match &self.0 {
            Frames::One(bytes) => Cow::Borrowed(bytes),
            Frames::Many(many) => Cow::Owned(many.joined()),
        }
    }

    /// The body as one `Bytes` (the spool stores it whole): no copy when it
    /// is one frame.
    pub(crate) fn into_bytes(self) -> Bytes {
        match self.0 {
            Frames::One(bytes) => bytes,
            Frames::Many(many) => Bytes::from(many.joined()),
        }
    }
}

impl From<Bytes> for Payload {
    fn from(bytes: Bytes) -> Self {
        let mut payload = Payload::new();
        payload.push(bytes);
        payload
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Self {
        Bytes::from(bytes).into()
    }
}

impl From<&[u8]> for Payload {
    /// A copy: for signing tools and tests, not the request path.
    fn from(bytes: &[u8]) -> Self {
        Bytes::copy_from_slice(bytes).into()
    }
}

/// Sent upstream as the frames it arrived in, with its exact length known
/// (so the client writes `Content-Length`, never chunked encoding).
impl http_body::Body for Payload {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = match &mut self.get_mut().0 {
            Frames::One(bytes) => (!bytes.is_empty()).then(|| std::mem::take(bytes)),
            Frames::Many(many) => many.pop(),
        };
        Poll::Ready(next.map(|frame| Ok(Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn one_frame_is_borrowed_and_many_are_joined_in_order() {
        let one = Payload::from(Bytes::from_static(b"hello"));
        assert!(matches!(one.contiguous(), Cow::Borrowed(b"hello")));
        let mut many = Payload::from(Bytes::from_static(b"he"));
        for part in [&b""[..], b"ll", b"o"] {
            many.push(Bytes::from_static(part));
        }
        assert_eq!(many.len(), 5);
        assert_eq!(&many.contiguous()[..], b"hello");
        assert_eq!(&many.into_bytes()[..], b"hello");
        assert!(Payload::new().is_empty());
        assert_eq!(Payload::new().chunks().count(), 0);
    }

    #[test]
    fn a_payload_is_small() {
        // Every request future holds one; see the type's doc.
        assert_eq!(std::mem::size_of::<Payload>(), std::mem::size_of::<Bytes>());
    }

    #[test]
    fn tiny_frames_are_gathered_and_large_ones_kept_in_order() {
        let large = Bytes::from(vec![b'L'; MIN_KEPT_FRAME]);
        let mut p = Payload::from(Bytes::from_static(b"head"));
        for _ in 0..10_000 {
            p.push(Bytes::from_static(b"x"));
        }
        p.push(large.clone());
        p.push(Bytes::from_static(b"yz"));
        // head, the 10,000 one-byte frames as one, the large frame, the tail.
        let lens: Vec<usize> = p.chunks().map(<[u8]>::len).collect();
        assert_eq!(lens, [4, 10_000, MIN_KEPT_FRAME, 2]);
        assert_eq!(p.len(), (4 + 10_000 + MIN_KEPT_FRAME + 2) as u64);
        let mut want = b"head".to_vec();
        want.extend(std::iter::repeat_n(b'x', 10_000));
        want.extend_from_slice(&large);
        want.extend_from_slice(b"yz");
        assert_eq!(&p.contiguous()[..], &want[..]);
        assert_eq!(&p.into_bytes()[..], &want[..]);
    }

    #[tokio::test]
    async fn large_frames_are_sent_on_uncopied_with_an_exact_length() {
        let a = Bytes::from(vec![b'a'; MIN_KEPT_FRAME]);
        let b = Bytes::from(vec![b'b'; MIN_KEPT_FRAME + 1]);
        let mut body = Payload::from(a.clone());
        body.push(b.clone());
        body.push(Bytes::from_static(b"c"));
        let total = a.len() + b.len() + 1;
        assert_eq!(
            http_body::Body::size_hint(&body).exact(),
            Some(total as u64)
        );
        let mut seen: Vec<Bytes> = Vec::new();
        while let Some(frame) = body.frame().await {
            seen.push(frame.unwrap().into_data().unwrap());
            let sent: usize = seen.iter().map(Bytes::len).sum();
            assert_eq!(
                http_body::Body::size_hint(&body).exact(),
                Some((total - sent) as u64)
            );
        }
        assert_eq!(seen, [a.clone(), b.clone(), Bytes::from_static(b"c")]);
        // The very buffers that came in: no copy on the way out.
        assert_eq!(seen[0].as_ptr(), a.as_ptr());
        assert_eq!(seen[1].as_ptr(), b.as_ptr());
        assert!(http_body::Body::is_end_stream(&body));
        assert!(http_body::Body::is_end_stream(&Payload::new()));
    }
}
