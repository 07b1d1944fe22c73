// Lesson 02. A read loop that decodes into a local `Vec` and spawns a task
// per message. The task owns the slice reference, not the bytes, and the
// `Vec` is dropped at the end of the iteration while the task may still run:
// E0597.
pub struct BorrowedMessage<'a> {
    pub raw: &'a [u8],
}

pub async fn handle(msg: BorrowedMessage<'_>) -> usize {
    msg.raw.len()
}

pub fn read_loop(frames: &[&[u8]]) {
    for frame in frames {
        let decoded: Vec<u8> = frame.iter().map(|byte| byte ^ 0x20).collect();
        let msg = BorrowedMessage { raw: &decoded };
        tokio::spawn(async move { handle(msg).await });
    }
}

fn main() {}
