//! Group names from the config (`status_group`, `control_group`) to gids, read from
//! `/etc/group` (the crate forbids the `unsafe` a `getgrnam` call would need; groups
//! from NSS services such as LDAP can be given by number instead).

use std::path::Path;

const GROUP_FILE: &str = "/etc/group";

/// The gid of `name`, or of a number given as is.
pub(crate) fn gid_of(name: &str) -> Result<u32, String> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    let text = std::fs::read_to_string(Path::new(GROUP_FILE))
        .map_err(|e| format!("cannot read {GROUP_FILE} to find group {name:?}: {e}"))?;
    find(&text, name).ok_or_else(|| {
        format!("no group named {name:?} in {GROUP_FILE}: create it (`groupadd --system {name}`) or give its number")
    })
}

/// `name:password:gid:members` lines.
fn find(text: &str, name: &str) -> Option<u32> {
    text.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && f[0] == name)
        .and_then(|f| f[2].parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_found_by_name_or_taken_by_number() {
        let text = "root:x:0:\ndredge:x:998:\ndredge-status:x:997:alice,bob\n";
        assert_eq!(find(text, "dredge-status"), Some(997));
        assert_eq!(find(text, "dredge"), Some(998));
        assert_eq!(find(text, "nobody-here"), None);
        assert_eq!(gid_of("4242"), Ok(4242));
        assert!(
            gid_of("no-such-group-for-dredge")
                .unwrap_err()
                .contains("groupadd")
        );
    }
}
