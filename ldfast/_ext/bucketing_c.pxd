cpdef bytes bucket_prefix(object key, object salt, object seed)
cpdef double bucket_value(bytes prefix, object value) except? -1.0
