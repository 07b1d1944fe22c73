// Lesson 03, edition 2024. The worker fix, written generically over its input
// and missing one bound. The task owns `reader`, but `R` itself could be
// `&mut SomeSocket`: a borrow the task may outlive. E0310 asks for `R: 'static`.
use bytes::Bytes;
use tokio::sync::mpsc;

pub fn spawn_worker<R>(reader: R, tx: mpsc::Sender<Bytes>)
where
    R: Iterator<Item = Bytes> + Send,
{
    tokio::spawn(async move {
        for chunk in reader {
            if tx.send(chunk).await.is_err() {
                break;
            }
        }
    });
}

fn main() {}
