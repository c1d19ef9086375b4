//! `ntp.server` and `ntp.offset`: each NTP server answers SNTP, and the local clock is close to
//! the best answer. `ntp.offset` reads the `ntp.server` rows, so the engine runs it after them.

use crate::catalogue::Catalogue;
use crate::checks::{cloud, skipped, Check, Step};
use crate::ids::ReqId;
use crate::options::Options;
use crate::run::ntp::{NtpOffset, NtpQuery};

const SELF_HOSTED: &str =
    "--self-hosted-ntp: the node keeps its own time (join with selfHostNtpServer=true)";
const NOT_APPLICABLE: &str = "not applicable with --self-hosted-ntp";

/// `ntp.server`: one SNTP request to each address of each server.
pub(crate) struct Server;
impl Check for Server {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::NtpServer]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        if o.self_hosted_ntp {
            return skipped(self.ids(), "(self-hosted)", SELF_HOSTED, NOT_APPLICABLE);
        }
        cloud::ntp_hosts(o)
            .into_iter()
            .map(|(shown, host)| {
                Step::new(ReqId::NtpServer, shown, NtpQuery)
                    .to(cloud::host_addr(&host))
                    .port(crate::constants::NTP_PORT)
            })
            .collect()
    }
}

/// `ntp.offset`: computed from the `ntp.server` rows; sends nothing.
pub(crate) struct Offset;
impl Check for Offset {
    fn ids(&self) -> &'static [ReqId] {
        &[ReqId::NtpOffset]
    }
    fn after(&self) -> &'static [ReqId] {
        &[ReqId::NtpServer]
    }
    fn plan(&self, o: &Options, _: &Catalogue) -> Vec<Step> {
        if o.self_hosted_ntp {
            return skipped(self.ids(), "(self-hosted)", SELF_HOSTED, NOT_APPLICABLE);
        }
        vec![Step::new(ReqId::NtpOffset, "local clock", NtpOffset)]
    }
}
