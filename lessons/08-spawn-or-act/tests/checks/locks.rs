//! No lock is held while a request awaits its work. The check's work reads
//! the tally, as another service (or the request itself) may while requests
//! are in flight: with a lock held across the work's `.await`, the read
//! waits for a lock that waits for the read, for ever.

use std::time::Duration;

use lesson::{Request, Tally, serve};
use lesson_support::within;
use tokio::time::sleep;

use super::{Gauge, requests, topic_of};

#[tokio::test(start_paused = true)]
async fn no_lock_is_held_while_a_request_awaits_its_work() {
    const REQUESTS: u64 = 200;
    let tally = Tally::new(8);
    let work = {
        let tally = tally.clone();
        move |request: Request| {
            let tally = tally.clone();
            async move {
                // What has been counted so far: any number is right, an
                // answer is what matters.
                let _so_far = tally.total(request.topic).await;
                sleep(Duration::from_millis(1)).await;
                1
            }
        }
    };

    let replies = within(
        "200 requests whose work reads the tally (a lock held across the work's \
         .await waits here for itself)",
        serve(requests(REQUESTS, 3, &Gauge::default()), &tally, 8, work),
    )
    .await;

    assert_eq!(replies.len() as u64, REQUESTS, "one reply per request");
    for topic in 0..3 {
        let expected = (0..REQUESTS).filter(|id| topic_of(*id, 3) == topic).count();
        let total = within("a total from the tally", tally.total(topic)).await;
        assert_eq!(total, expected as u64, "the total of topic {topic}");
    }
}
