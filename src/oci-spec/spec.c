/* placeholder until the oci-spec parser lands */
