//! Reading user-named files: what is refused, and that nothing blocks.

use std::process::Command;

use super::*;

fn fifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo failed");
}

#[test]
fn a_regular_file_under_the_cap_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.txt");
    std::fs::write(&f, "hello").unwrap();
    assert_eq!(read_regular(&f, 5, "k", Links::Follow).unwrap(), b"hello");
}

#[test]
fn a_file_over_the_cap_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.txt");
    std::fs::write(&f, "hello!").unwrap();
    let e = read_regular(&f, 5, "max_input_file_bytes", Links::Follow).unwrap_err();
    assert!(matches!(e, ReadError::TooLarge { limit: 5, .. }), "{e}");
    assert!(e.to_string().contains("max_input_file_bytes"), "{e}");
}

#[test]
fn a_fifo_is_refused_at_once_instead_of_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.toml");
    fifo(&f);
    let e = read_regular(&f, 1 << 20, "k", Links::Follow).unwrap_err();
    assert!(matches!(e, ReadError::NotRegular(_)), "{e}");
    assert!(e.to_string().contains("FIFO"), "{e}");
}

#[test]
fn a_symlink_to_dev_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("zero.toml");
    std::os::unix::fs::symlink("/dev/zero", &f).unwrap();
    let e = read_regular(&f, 1 << 20, "k", Links::Follow).unwrap_err();
    assert!(e.to_string().contains("character device"), "{e}");
}

#[test]
fn refusing_links_refuses_a_symlink_to_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("real"), "x").unwrap();
    let f = dir.path().join("link");
    std::os::unix::fs::symlink(dir.path().join("real"), &f).unwrap();
    assert!(matches!(
        read_regular(&f, 10, "k", Links::Refuse),
        Err(ReadError::Symlink)
    ));
    assert!(read_regular(&f, 10, "k", Links::Follow).is_ok());
}

#[test]
fn confine_accepts_files_inside_a_root_and_refuses_every_way_out() {
    let outer = tempfile::tempdir().unwrap();
    let jobs = outer.path().join("jobs");
    std::fs::create_dir(&jobs).unwrap();
    std::fs::write(jobs.join("urls.txt"), "u").unwrap();
    std::fs::write(outer.path().join("secret"), "s3cr3t").unwrap();
    std::os::unix::fs::symlink(outer.path().join("secret"), jobs.join("leak.txt")).unwrap();
    let roots = [jobs.clone()];
    assert!(confine(&jobs, "urls.txt", &roots).is_ok());
    let inside_abs = jobs.join("urls.txt").display().to_string();
    assert!(confine(&jobs, &inside_abs, &roots).is_ok());
    for bad in [
        "../secret".to_string(),
        outer.path().join("secret").display().to_string(),
        "leak.txt".to_string(),
        "/etc/passwd".to_string(),
    ] {
        let e = confine(&jobs, &bad, &roots).unwrap_err();
        assert!(e.contains("outside") || e.contains(".."), "{bad}: {e}");
        assert!(!e.contains("s3cr3t"), "{e}");
    }
}

#[test]
fn confine_accepts_a_second_root() {
    let jobs = tempfile::tempdir().unwrap();
    let inputs = tempfile::tempdir().unwrap();
    std::fs::write(inputs.path().join("q.txt"), "q").unwrap();
    let name = inputs.path().join("q.txt").display().to_string();
    assert!(confine(jobs.path(), &name, &[jobs.path().to_path_buf()]).is_err());
    let roots = [jobs.path().to_path_buf(), inputs.path().to_path_buf()];
    assert!(confine(jobs.path(), &name, &roots).is_ok());
}
