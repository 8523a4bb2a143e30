//! dredge-octoparse
